"""Where the hub may send a request on an agency's behalf.

An agency registers its own ``base_url``, so the hub must not become its way into the hub's network
(loopback, private ranges, link-local cloud metadata at 169.254.169.254). Two checks, both needed:

- ``OutboundPolicy.check_url`` before a request is built, and before any credential is computed for it:
  scheme, host, and an IP-literal host's address (aiohttp connects to IP literals without resolving them).
- ``PolicyResolver`` when aiohttp opens a connection to a name: the name is resolved once and only the
  addresses the policy allows are handed back, so the socket connects to a vetted address and a name that
  changes its answer between check and connect (DNS rebinding) gains nothing.

Redirects are not followed at all (connectors/runtime.py), so every hop is one the hub chose.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# NAT64 (RFC 6052 well-known prefix, RFC 8215 local-use prefix): the last 32 bits are an IPv4 address.
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_SHARED = IPv4Network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_METADATA = IPv4Address("169.254.169.254")


class OutboundRefused(ValueError):
    """The policy refuses this destination. The message names the host or address, never a credential."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    https_only: bool = True  # production: https only
    allow_internal: bool = False  # sandbox mode: loopback and private addresses allowed
    allowed_networks: tuple[IPNetwork, ...] = ()  # operator-listed exceptions
    plain_http_hosts: tuple[str, ...] = ()  # operator-listed hosts reached over plain http outside the sandbox

    @classmethod
    def sandbox(cls) -> OutboundPolicy:
        return cls(https_only=False, allow_internal=True)

    @classmethod
    def from_strings(cls, *, sandbox: bool, networks: Iterable[str], plain_http_hosts: Iterable[str]) -> OutboundPolicy:
        parsed: list[IPNetwork] = []
        for text in networks:
            try:
                parsed.append(ip_network(text.strip(), strict=True))
            except ValueError as exc:
                raise ValueError(f"agency_allowed_networks: {text!r} is not a network in CIDR form ({exc})") from None
        hosts = tuple(_normal_host(h) for h in plain_http_hosts if h.strip())
        base = cls.sandbox() if sandbox else cls()
        return cls(base.https_only, base.allow_internal, tuple(parsed), hosts)

    def check_url(self, url: str) -> None:
        """Refuse a URL by scheme, a missing host, credentials in it, or an IP-literal host's address."""
        parts = URL(url)  # the parser aiohttp itself uses, so both read the same host
        host = parts.raw_host
        if not host:
            raise OutboundRefused("the agency URL", "has no host")
        if parts.scheme not in ("http", "https"):
            raise OutboundRefused(host, f"scheme {parts.scheme!r} is not allowed")
        if parts.scheme == "http" and self.https_only and _normal_host(host) not in self.plain_http_hosts:
            raise OutboundRefused(host, "plain http is allowed only to hosts the operator lists")
        if parts.raw_user is not None or parts.raw_password is not None:
            raise OutboundRefused(host, "credentials in the URL are not accepted")
        literal = _ip_literal(parts.host or host)
        if literal is not None:
            self.check_address(literal, str(literal))

    def address_allowed(self, ip: IPAddress) -> bool:
        return self.refusal(ip) is None

    def check_address(self, ip: IPAddress, target: str) -> None:
        reason = self.refusal(ip)
        if reason is not None:
            raise OutboundRefused(target, reason)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why the hub does not call this address, or None if it may."""
        if self.allow_internal or self._listed(ip):
            return None
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            if self._listed(embedded):
                return None
            reason = _internal(embedded)
            return None if reason is None else f"{reason} (IPv4 {embedded} inside {ip})"
        return _internal(ip)

    def _listed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed_networks)


class PolicyResolver(AbstractResolver):
    """Resolves a name once per connection and hands aiohttp only the addresses the policy allows."""

    def __init__(self, policy: OutboundPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        reasons: list[str] = []
        for answer in answers:
            address = _parse(answer["host"])
            reason = "not an IP address" if address is None else self.policy.refusal(address)
            if reason is None:
                allowed.append(answer)
            else:
                reasons.append(f"{answer['host']}: {reason}")
        if not allowed:
            # No connection is attempted: aiohttp gets no address to connect to.
            raise OutboundRefused(host, "resolves only to addresses the hub does not call (" + "; ".join(reasons) + ")")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _internal(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback address"
    if ip == _METADATA:
        return "link-local address (cloud metadata)"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified:
        return "unspecified address"
    if isinstance(ip, IPv4Address) and ip in _SHARED:
        return "shared address space (RFC 6598)"
    if ip.is_private:
        return "private address"
    if ip.is_reserved or not ip.is_global:
        return "reserved or non-public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (IPv4-mapped, 6to4, NAT64): the one actually reached."""
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _NAT64):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _ip_literal(host: str) -> IPAddress | None:
    """The address of a host aiohttp connects to without resolving; refuses forms only ``socket`` reads."""
    looks_like_ip = ":" in host or host.replace(".", "").isdigit()  # aiohttp's own test (helpers.is_ip_address)
    address = _parse(host)
    if address is None and (looks_like_ip or _legacy_ipv4(host)):
        # 127.1, 2130706433, 0x7f.1, 0177.0.0.1: socket maps them onto an address, the policy would not see it
        raise OutboundRefused(host, "not a canonical IP address")
    return address


def _parse(text: str) -> IPAddress | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _legacy_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def _normal_host(host: str) -> str:
    host = host.strip().lower().strip("[]")
    address = _parse(host)
    return str(address) if address is not None else host
