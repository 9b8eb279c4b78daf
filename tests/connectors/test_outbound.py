"""The outbound policy: where an agency's ``base_url`` may lead the hub, against real local servers.

The agencies here are aiohttp servers on loopback; "internal" servers record whatever reaches them, and
each test asserts they received nothing. Only DNS, which is outside the system, is stubbed.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from ipaddress import ip_address, ip_network

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

import connectors.outbound
from connectors.agency_auth import AgencyAuth, ApiKeyAuth, ClientCredentialsAuth
from connectors.errors import AgencyAddressRefused, AgencyBadResponse
from connectors.outbound import OutboundPolicy, OutboundRefused, PolicyResolver
from connectors.runtime import AgencyClient, AgencyEndpoint, RetryPolicy
from sandbox.runner import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Recorder:
    """A server that answers every request with 200 JSON and remembers what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.method, request.path, dict(request.headers)))
        return web.json_response({"access_token": "stolen", "expires_in": 300, "data": "internal"})


@asynccontextmanager
async def serving(handler: Handler, host: str = "127.0.0.1", port: int | None = None) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, host, port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


@asynccontextmanager
async def agency_client(
    base_url: str, policy: OutboundPolicy, auth: AgencyAuth | None = None
) -> AsyncIterator[AgencyClient]:
    endpoint = AgencyEndpoint(
        "test", base_url, auth or ApiKeyAuth("X-Key", "agency-key"), outbound=policy, retry=RetryPolicy(attempts=3)
    )
    client = AgencyClient(endpoint)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


def redirecting_to(location: str, status: int) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handle


# Redirects ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_to_an_internal_address_is_refused_not_followed(status: int) -> None:
    internal = Recorder()
    async with serving(internal.handle) as internal_port:
        target = f"http://127.0.0.1:{internal_port}/latest/meta-data"
        # Even the sandbox policy, which allows loopback, never follows a redirect.
        async with (
            serving(redirecting_to(target, status)) as port,
            agency_client(f"http://127.0.0.1:{port}", OutboundPolicy.sandbox()) as client,
        ):
            with pytest.raises(AgencyBadResponse, match=rf"redirect \(HTTP {status}\).*does not follow"):
                await client.get("/persons/1")
    assert internal.received == []
    assert (client.stats.calls, client.stats.failures) == (1, 1)


async def test_a_token_endpoint_redirect_is_refused_and_the_secret_goes_nowhere_else() -> None:
    internal = Recorder()
    agency_saw: list[str] = []

    async def agency(request: web.Request) -> web.Response:
        agency_saw.append(request.path)
        if request.path == "/oauth/token":
            # 307 keeps the method and body: a follower would POST the grant to the internal server.
            return web.Response(status=307, headers={"Location": f"http://127.0.0.1:{internal_port}/oauth/token"})
        return web.json_response({"ok": True})

    auth = ClientCredentialsAuth("/oauth/token", "hub", "client-secret")
    async with (
        serving(internal.handle) as internal_port,
        serving(agency) as port,
        agency_client(f"http://127.0.0.1:{port}", OutboundPolicy.sandbox(), auth) as client,
    ):
        with pytest.raises(AgencyBadResponse, match=r"token endpoint answered a redirect \(HTTP 307\)"):
            await client.get("/persons/1")
    assert internal.received == []
    assert agency_saw == ["/oauth/token"]  # the data call never went out without a token


# Addresses ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "named"),
    [
        ("http://127.0.0.1:{port}", "127.0.0.1"),
        ("http://[::1]:{port}", "::1"),
        ("https://10.0.0.5", "10.0.0.5"),
        ("https://169.254.169.254", "169.254.169.254"),
        ("https://[::ffff:127.0.0.1]:{port}", "::ffff:7f00:1"),
    ],
)
async def test_production_refuses_internal_addresses_before_any_credential(
    base_url: str, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    internal = Recorder()
    async with serving(internal.handle) as port:
        # Client credentials: a refused URL must not even produce a token request.
        auth = ClientCredentialsAuth("/oauth/token", "hub", "client-secret")
        async with agency_client(base_url.format(port=port), OutboundPolicy(), auth) as client:
            with caplog.at_level(logging.WARNING, "cardhub.connectors"), pytest.raises(AgencyAddressRefused) as refused:
                await client.get("/persons/1")
    assert internal.received == []
    assert refused.value.code == "AGENCY_UNAVAILABLE"
    assert named in refused.value.message
    assert "client-secret" not in refused.value.message
    # Counted as one failed call (never retried, though the retry policy allows 3 attempts) and logged.
    assert (client.stats.calls, client.stats.failures, client.stats.last_error) == (1, 1, "AGENCY_UNAVAILABLE")
    assert any(named in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_a_name_that_resolves_to_loopback_is_refused_by_the_resolver() -> None:
    internal = Recorder()
    async with serving(internal.handle) as port:
        # The URL check passes (plain http listed, a name, not an address): only resolution can refuse it.
        policy = OutboundPolicy(plain_http_hosts=("localhost",))
        policy.check_url(f"http://localhost:{port}/persons/1")
        async with agency_client(f"http://localhost:{port}", policy) as client:
            with pytest.raises(AgencyAddressRefused, match=r"localhost.*loopback"):
                await client.get("/persons/1")
    assert internal.received == []
    assert client.stats.failures == 1


class RebindingDns(AbstractResolver):
    """DNS that answers an allowed address first and loopback afterwards."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        address = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


async def test_dns_rebinding_to_loopback_is_refused_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    # 127.0.0.2 stands for the agency's public address (listed as allowed); 127.0.0.1 is the hub's own host.
    dns = RebindingDns(["127.0.0.2", "127.0.0.1"])
    monkeypatch.setattr(connectors.outbound, "DefaultResolver", lambda: dns)
    public, internal = Recorder(), Recorder()

    async def agency(request: web.Request) -> web.Response:
        await public.handle(request)
        response = web.json_response({"ok": True})
        response.force_close()  # the next call needs a new connection, hence a new lookup
        return response

    policy = OutboundPolicy(allowed_networks=(ip_network("127.0.0.2/32"),), plain_http_hosts=("agency.example",))
    port = free_port()
    async with (
        serving(agency, "127.0.0.2", port),
        serving(internal.handle, "127.0.0.1", port),
        agency_client(f"http://agency.example:{port}", policy) as client,
    ):
        assert (await client.get("/persons/1")).body == {"ok": True}
        client.session.connector.clear_dns_cache()  # type: ignore[union-attr]  # as when the TTL runs out
        with pytest.raises(AgencyAddressRefused, match=r"agency\.example.*127\.0\.0\.1: loopback"):
            await client.get("/persons/1")
    assert dns.asked == ["agency.example", "agency.example"]
    assert len(public.received) == 1
    assert internal.received == []


async def test_the_resolver_hands_back_only_allowed_addresses() -> None:
    class MixedDns(RebindingDns):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            return [
                {"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
                for a in self.answers
            ]

    resolver = PolicyResolver(OutboundPolicy(), MixedDns(["10.1.2.3", "93.184.215.14", "169.254.169.254"]))
    assert [r["host"] for r in await resolver.resolve("agency.example", 443)] == ["93.184.215.14"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "fc00::1",
        "fd12:3456::1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "240.0.0.1",
        "255.255.255.255",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:5",  # NAT64 around 10.0.0.5
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert not OutboundPolicy().address_allowed(ip_address(address))
    assert OutboundPolicy.sandbox().address_allowed(ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert OutboundPolicy().address_allowed(ip_address(address))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://agency.example/x", "plain http"),
        ("ftp://agency.example/x", "scheme"),
        ("https:///x", "no host"),
        ("https://127.1/x", "not a canonical IP address"),
        ("https://2130706433/x", "not a canonical IP address"),
        ("https://0x7f.1/x", "not a canonical IP address"),
        ("https://user:pw@agency.example/x", "credentials"),
        ("https://agency.example@169.254.169.254/x", "credentials|link-local"),  # a path glued to a base URL
    ],
)
def test_production_refuses_urls(url: str, why: str) -> None:
    with pytest.raises(OutboundRefused, match=why) as refused:
        OutboundPolicy().check_url(url)
    assert "pw" not in str(refused.value)


def test_production_accepts_https_names_and_listed_plain_http_hosts() -> None:
    OutboundPolicy().check_url("https://agency.example/api?x=1")
    OutboundPolicy().check_url("https://[2606:4700:4700::1111]/api")
    OutboundPolicy(plain_http_hosts=("gw.agency.example",)).check_url("http://GW.agency.example:8080/api")


# Operator exceptions ------------------------------------------------------------------------------------


async def test_listed_networks_and_plain_http_hosts_reach_a_loopback_agency() -> None:
    policy = OutboundPolicy.from_strings(sandbox=False, networks=["127.0.0.0/8"], plain_http_hosts=["127.0.0.1"])
    assert (policy.https_only, policy.allow_internal) == (True, False)
    agency = Recorder()
    async with serving(agency.handle) as port:
        async with agency_client(f"http://127.0.0.1:{port}", policy) as client:
            assert (await client.get("/persons/1")).status == 200
        # The network alone is not enough: plain http still needs the host listed.
        networks_only = OutboundPolicy.from_strings(sandbox=False, networks=["127.0.0.0/8"], plain_http_hosts=[])
        async with agency_client(f"http://127.0.0.1:{port}", networks_only) as client:
            with pytest.raises(AgencyAddressRefused, match="plain http"):
                await client.get("/persons/1")
    assert len(agency.received) == 1


def test_from_strings_in_sandbox_mode_allows_internal_addresses() -> None:
    policy = OutboundPolicy.from_strings(sandbox=True, networks=[], plain_http_hosts=[])
    assert policy == OutboundPolicy.sandbox()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-network", "10.0.0.1/8"])
def test_from_strings_rejects_a_bad_network(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"agency_allowed_networks: '{bad}' is not a network in CIDR form"):
        OutboundPolicy.from_strings(sandbox=False, networks=[bad], plain_http_hosts=[])


# Answers --------------------------------------------------------------------------------------------------


async def test_deeply_nested_json_is_a_bad_response_not_a_crash() -> None:
    async def nested(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000, content_type="application/json")

    async with serving(nested) as port, agency_client(f"http://127.0.0.1:{port}", OutboundPolicy.sandbox()) as client:
        with pytest.raises(AgencyBadResponse, match="not JSON the hub accepts"):
            await client.get("/persons/1")
        assert client.stats.failures == 1


async def test_proxies_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would receive every request and choose where it goes: the policy could not see the destination.
    proxy, agency = Recorder(), Recorder()
    async with serving(proxy.handle) as proxy_port, serving(agency.handle) as port:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with agency_client(f"http://127.0.0.1:{port}", OutboundPolicy.sandbox()) as client:
            await client.get("/persons/1")
    assert (len(proxy.received), len(agency.received)) == (0, 1)
