"""The shared HTTP runtime: one aiohttp ClientSession per agency, its own connection limit and
timeout, auth applied to every call, and every failure mapped to a typed ``AgencyError``.

Every request goes only where the endpoint's ``OutboundPolicy`` allows (connectors/outbound.py): the URL is
checked before any credential is computed, names resolve only to allowed addresses, and redirects are
never followed (an agency's 3xx is a bad answer), so an agency cannot point the hub at its own network.

Nothing above this module sees aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus, urlencode, urlsplit

import aiohttp

from connectors.agency_auth import AgencyAuth
from connectors.errors import (
    AgencyAddressRefused,
    AgencyAuthFailed,
    AgencyBadResponse,
    AgencyError,
    AgencyRateLimited,
    AgencyTimeout,
    AgencyUnavailable,
)
from connectors.outbound import OutboundPolicy, OutboundRefused, PolicyResolver
from telemetry import metrics
from telemetry.tracing import agency_span

log = logging.getLogger("cardhub.connectors")

MAX_BODY_BYTES = 4 * 1024 * 1024  # an agency answer larger than this is refused as a bad response


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of GETs (idempotent reads): how many attempts in all, the first pause, and on what."""

    attempts: int = 1
    backoff_seconds: float = 0.05
    on: frozenset[str] = frozenset({"unavailable"})  # "unavailable", "timeout"

    def allows(self, exc: AgencyError, attempt: int) -> bool:
        if attempt + 1 >= self.attempts:
            return False
        if isinstance(exc, AgencyTimeout):
            return "timeout" in self.on
        return type(exc) is AgencyUnavailable and "unavailable" in self.on


@dataclass(frozen=True, slots=True)
class AgencyEndpoint:
    agency: str
    base_url: str
    auth: AgencyAuth
    timeout_seconds: float = 3.0
    connect_timeout_seconds: float = 1.0
    max_connections: int = 100
    extra_headers: tuple[tuple[str, str], ...] = ()  # e.g. the sandbox's fault header in demos and tests
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit: tuple[float, int] | None = None  # (requests per second, burst), per hub process
    # The hub always passes its own; the default (sandbox: loopback and plain http allowed) serves tests.
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy.sandbox)


class SharedRateLimit(Protocol):
    """A rate limit every hub instance counts together (the cache's ``SharedRate``, cache/limits.py)."""

    async def allow(self, agency: str, per_second: float) -> float:
        """0 when a call may go now; else how many seconds to wait before trying again."""
        ...


class RateLimiter:
    """A token bucket. A call that would wait longer than ``max_wait`` is refused instead of queued."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it (0: now)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.per_second)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.per_second

    def give_back(self) -> None:
        self._tokens += 1


@dataclass(frozen=True, slots=True)
class AgencyResponse:
    status: int
    body: Any  # parsed JSON


@dataclass(slots=True)
class CallStats:
    """Recent calls of one agency, for /readyz and operators."""

    calls: int = 0
    failures: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    last_success_at: float | None = None  # unix time
    last_error: str | None = None
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=500))  # recent calls: True = failed

    @property
    def error_rate(self) -> float | None:
        """Share of the last (up to) 500 calls that failed."""
        return sum(self.outcomes) / len(self.outcomes) if self.outcomes else None


class AgencyClient:
    def __init__(self, endpoint: AgencyEndpoint) -> None:
        self.endpoint = endpoint
        self.agency = endpoint.agency
        self.stats = CallStats()
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PolicyResolver | None = None
        self._base_path = urlsplit(endpoint.base_url).path.rstrip("/")
        # Counted with every hub instance's calls (given by LiveConnectors when the cache is shared).
        self.shared_rate: SharedRateLimit | None = None
        limit = endpoint.rate_limit
        self._limiter = RateLimiter(*limit) if limit is not None else None

    async def start(self) -> None:
        if self._session is None:
            # Every connection to a name goes through the policy's resolver (an IP literal is checked by URL).
            self._resolver = PolicyResolver(self.endpoint.outbound)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.endpoint.max_connections, resolver=self._resolver),
                timeout=aiohttp.ClientTimeout(
                    total=self.endpoint.timeout_seconds, sock_connect=self.endpoint.connect_timeout_seconds
                ),
                headers=dict(self.endpoint.extra_headers),
                raise_for_status=False,
                # One session serves every citizen: a cookie set for one must never ride along for another.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # no proxy from the environment: the policy decides where requests go
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:  # ours, so the connector leaves it open
            await self._resolver.close()
            self._resolver = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"AgencyClient for {self.agency} used before start()")
        return self._session

    async def get(self, path: str, params: dict[str, str | int] | None = None) -> AgencyResponse:
        """GET a JSON document, retried as the endpoint's retry policy allows (a GET is idempotent)."""
        with agency_span(self.agency, "GET"):
            return await self._get_retried(path, params)

    async def _get_retried(self, path: str, params: dict[str, str | int] | None) -> AgencyResponse:
        retry = self.endpoint.retry
        attempt = 0
        while True:
            try:
                return await self._get_once(path, params)
            except AgencyError as exc:
                if not retry.allows(exc, attempt):
                    raise
                await asyncio.sleep(retry.backoff_seconds * 2**attempt)
                attempt += 1

    async def _get_once(self, path: str, params: dict[str, str | int] | None) -> AgencyResponse:
        """One GET. Tried again once after a 401 (the agency may have expired our token)."""
        query = urlencode(params or {})
        for attempt in range(2):
            response = await self._call("GET", path, query, b"")
            if response.status == 401 and attempt == 0:
                self.endpoint.auth.invalidate()
                continue
            if response.status == 401:
                raise AgencyAuthFailed(self.agency, "agency refused the hub's credentials")
            return response
        raise AssertionError("unreachable")

    async def _throttle(self) -> None:
        if self._limiter is not None:
            wait = self._limiter.reserve()
            if wait > self.endpoint.timeout_seconds:
                self._limiter.give_back()
                self._refuse()
            if wait:
                await asyncio.sleep(wait)
        if self.shared_rate is not None and self.endpoint.rate_limit is not None:
            # Every instance's calls to this agency, counted together (cache/limits.py).
            waited = 0.0
            while (pause := await self.shared_rate.allow(self.agency, self.endpoint.rate_limit[0])) > 0:
                waited += pause
                if waited > self.endpoint.timeout_seconds:
                    self._refuse()
                await asyncio.sleep(pause)

    def _refuse(self) -> None:
        self.stats.calls += 1
        self.stats.failures += 1
        self.stats.outcomes.append(True)
        self.stats.last_error = "RATE_LIMITED"
        metrics.agency_call(self.agency, "RATE_LIMITED")
        log.warning("hub-side rate limit reached: %s", self.agency)
        raise AgencyRateLimited(self.agency, "the hub's rate limit towards this agency is reached")

    async def _call(self, method: str, path: str, query: str, body: bytes) -> AgencyResponse:
        await self._throttle()
        started = time.monotonic()
        self.stats.calls += 1
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            # Signed as sent: a base URL with a path of its own ("https://gw.example/si") is part of it.
            full_path = self._base_path + path
            url = self.endpoint.base_url.rstrip("/") + path + (f"?{query}" if query else "")
            self._check_url(url)  # before the auth headers: no credential is produced for a refused URL
            headers = await self.endpoint.auth.headers(self, method, full_path, query, body)
            response = await self._send(method, url, headers, body)
        except AgencyError as exc:
            self.stats.failures += 1
            self.stats.outcomes.append(True)
            self.stats.last_error = exc.code
            metrics.agency_call(self.agency, exc.code, time.monotonic() - started)
            log.warning("agency call failed: %s %s %s: %s", self.agency, method, path, exc.message)
            raise
        finally:
            self.stats.in_flight -= 1
        self.stats.latencies.append(time.monotonic() - started)
        metrics.agency_call(self.agency, "ok" if response.status < 500 else "UNAVAILABLE", self.stats.latencies[-1])
        if response.status >= 500:
            self.stats.failures += 1
            self.stats.outcomes.append(True)
            self.stats.last_error = f"HTTP {response.status}"
            log.warning("agency answered %s: %s %s %s", response.status, self.agency, method, path)
            raise AgencyUnavailable(self.agency, f"agency answered HTTP {response.status}")
        self.stats.outcomes.append(False)
        self.stats.last_success_at = time.time()
        return response

    def _check_url(self, url: str) -> None:
        try:
            self.endpoint.outbound.check_url(url)
        except OutboundRefused as exc:
            raise AgencyAddressRefused(self.agency, f"the hub does not call {exc}") from None

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> AgencyResponse:
        try:
            async with self.session.request(
                method, url, headers=headers, data=body or None, allow_redirects=False
            ) as resp:
                self._refuse_redirect(resp.status, "agency")
                raw = await self._read_bounded(resp)
                status = resp.status
        except OutboundRefused as exc:  # from the resolver: no connection was attempted
            raise AgencyAddressRefused(self.agency, f"the hub does not call {exc}") from None
        except TimeoutError as exc:
            raise AgencyTimeout(self.agency, f"no answer within {self.endpoint.timeout_seconds:g}s") from exc
        except aiohttp.ClientError as exc:
            raise AgencyUnavailable(self.agency, f"connection failed ({type(exc).__name__})") from exc
        if status >= 500 and not _looks_like_json(raw):
            return AgencyResponse(status=status, body=None)
        try:
            parsed = self._parse_json(raw, status)
        except AgencyBadResponse:
            if status >= 500:
                return AgencyResponse(status=status, body=None)
            raise
        return AgencyResponse(status=status, body=parsed)

    def _refuse_redirect(self, status: int, who: str) -> None:
        # Following one would carry the hub's headers to wherever the agency points, internal or not.
        if 300 <= status < 400:
            raise AgencyBadResponse(
                self.agency, f"{who} answered a redirect (HTTP {status}); the hub does not follow redirects"
            )

    def _parse_json(self, raw: bytes, status: int) -> Any:
        try:
            return json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nesting too deep
            raise AgencyBadResponse(self.agency, f"answer is not JSON the hub accepts (HTTP {status})") from exc

    async def _read_bounded(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, refused past MAX_BODY_BYTES without reading the rest into memory."""
        if (resp.content_length or 0) > MAX_BODY_BYTES:
            raise AgencyBadResponse(self.agency, "answer larger than the hub accepts")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise AgencyBadResponse(self.agency, "answer larger than the hub accepts")
            chunks.append(chunk)
        return b"".join(chunks)

    async def fetch_client_credentials_token(self, token_path: str, client_id: str, secret: str) -> tuple[str, int]:
        """POST the token endpoint (client_secret_basic). Returns (access_token, expires_in)."""
        url = self.endpoint.base_url.rstrip("/") + token_path
        self._check_url(url)  # before the secret is encoded into a header
        try:
            async with self.session.post(
                url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": client_secret_basic(client_id, secret)},
                allow_redirects=False,
            ) as resp:
                status = resp.status
                self._refuse_redirect(status, "token endpoint")
                raw = await self._read_bounded(resp) if status < 500 else b""
        except OutboundRefused as exc:
            raise AgencyAddressRefused(self.agency, f"the hub does not call {exc}") from None
        except TimeoutError as exc:
            raise AgencyTimeout(self.agency, "token endpoint did not answer") from exc
        except aiohttp.ClientError as exc:
            raise AgencyUnavailable(self.agency, f"token endpoint unreachable ({type(exc).__name__})") from exc
        try:
            payload = self._parse_json(raw, status)
        except AgencyBadResponse as exc:
            raise AgencyBadResponse(self.agency, "token endpoint answered with something that is not JSON") from exc
        if status >= 500:
            raise AgencyUnavailable(self.agency, f"token endpoint answered HTTP {status}")
        if status != 200 or not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise AgencyAuthFailed(self.agency, f"token endpoint refused the hub (HTTP {status})")
        expires_in = payload.get("expires_in", 300)
        return payload["access_token"], int(expires_in) if isinstance(expires_in, int) else 300

    def latency_percentiles(self) -> tuple[float | None, float | None]:
        values = sorted(self.stats.latencies)
        if not values:
            return None, None
        return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.95))]


def client_secret_basic(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: form-urlencode both parts before joining and base64-encoding them.
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _looks_like_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] in (b"{", b"[")


async def gather_closed(clients: list[AgencyClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients))
