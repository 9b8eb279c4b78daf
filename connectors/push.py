"""Pushing a Security Event Token to a receiver (RFC 8935): one POST, checked like every outbound call.

A receiver's URL is registered by a client, so it gets the agency boundary's rules
(``connectors/outbound.py``): checked before anything is sent, names resolved only to addresses the
policy allows, redirects never followed, no proxy from the environment, a bounded answer and a
timeout. Nothing above this module sees aiohttp.

RFC 8935 section 2.2: the receiver answers 202 Accepted once it has validated and kept the SET;
section 2.3: an error is 400 with ``{"err": ..., "description": ...}``. Anything else (another
status, a hang, a refused connection) is a failure for the caller to retry.
"""

from __future__ import annotations

import json

import aiohttp

from connectors.outbound import OutboundPolicy, OutboundRefused, PolicyResolver

CONTENT_TYPE = "application/secevent+jwt"
MAX_ANSWER_BYTES = 16 * 1024


class PushFailed(Exception):
    """The SET was not accepted; the message says why (never a credential)."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused  # the policy refused the address: no connection was made


class PushSender:
    def __init__(self, outbound: OutboundPolicy, timeout_seconds: float = 5.0) -> None:
        self.outbound = outbound
        self.timeout = timeout_seconds
        self._session: aiohttp.ClientSession | None = None
        self._resolver: PolicyResolver | None = None

    async def start(self) -> None:
        if self._session is None:
            self._resolver = PolicyResolver(self.outbound)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=20, resolver=self._resolver),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    async def push(self, url: str, token: str) -> None:
        """POST one SET; returns when the receiver answered 202, else raises PushFailed."""
        try:
            self.outbound.check_url(url)
        except OutboundRefused as exc:
            raise PushFailed(f"the hub does not push to {exc}", refused=True) from None
        await self.start()
        assert self._session is not None
        headers = {"Content-Type": CONTENT_TYPE, "Accept": "application/json"}
        try:
            async with self._session.post(url, data=token.encode(), headers=headers, allow_redirects=False) as resp:
                status = resp.status
                answer = await resp.content.read(MAX_ANSWER_BYTES)
        except OutboundRefused as exc:
            raise PushFailed(f"the hub does not push to {exc}", refused=True) from None
        except TimeoutError:
            raise PushFailed(f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise PushFailed(f"connection failed ({type(exc).__name__})") from None
        if status == 202:
            return
        raise PushFailed(f"HTTP {status}{_described(answer) if status == 400 else ''}")


def _described(answer: bytes) -> str:
    try:
        body = json.loads(answer)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if isinstance(body, dict) and isinstance(body.get("err"), str):
        return f": {body['err'][:60]!r}"
    return ""
