"""Login throttling: attempts limited per account and per client address, with growing waits.

NIST SP 800-63B section 5.2.2: the verifier "SHALL implement a rate-limiting mechanism that
effectively limits failed authentication attempts". Each account (known or not: the answer must not
tell) and each client address has a number of attempts within a window. Past it, every further
attempt first waits, twice as long as the one before, up to a maximum, and is answered 429 with
``Retry-After`` until then. A success clears the account's count (not the address's: one account an
attacker owns must not reset the count of the address they guess from).

Attempts are counted before the password is checked, so a burst sent at once gets no more guesses
than a patient sequence: past the limit, one attempt per wait takes the turn and the rest are refused
without a password check. With a shared store (Redis, passed in by the hub) every instance counts
together; if the store fails, this process's own counts stand in, so the limits never fall open.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

log = logging.getLogger("cardhub.login")
T = TypeVar("T")

MAX_WAITING_PER_WORKER = 32  # password checks queued beyond this are refused at once


class AttemptStore(Protocol):
    """Expiring counters and values. The cache's backend (``cache/backend.py``) is one."""

    async def count(self, name: str, window_seconds: float) -> int: ...

    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, expire_seconds: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...


class TooManyAttempts(Exception):
    """HTTP 429: wait ``retry_after`` seconds (RFC 6585 section 4)."""

    code = "login_throttled"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many login attempts; retry after {retry_after:.0f} s")
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 5
    per_address: int = 50
    window_seconds: float = 900.0
    delay_seconds: float = 1.0
    max_delay_seconds: float = 900.0
    check_workers: int = 2  # password checks at once; each is an scrypt run

    def wait(self, beyond: int) -> float:
        """The wait before the next attempt, ``beyond`` attempts past the limit (1, 2, 4, ... times the delay)."""
        return float(min(self.max_delay_seconds, self.delay_seconds * 2 ** min(max(beyond - 1, 0), 32)))


class LocalAttempts:
    """An ``AttemptStore`` in this process: bounded, oldest entries dropped first."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._max_entries = max_entries

    async def count(self, name: str, window_seconds: float) -> int:
        value = await self.get(name)
        if value is None:
            await self.set(name, 1, window_seconds)
            return 1
        _, expires_at = self._entries[name]
        self._entries[name] = (int(value) + 1, expires_at)
        return int(value) + 1

    async def get(self, key: str) -> Any | None:
        found = self._entries.get(key)
        if found is None or found[1] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return found[0]

    async def set(self, key: str, value: Any, expire_seconds: float) -> None:
        self._entries[key] = (value, time.monotonic() + expire_seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)


class LoginThrottle:
    def __init__(self, limits: LoginLimits, shared: AttemptStore | None = None, name_key: bytes | None = None) -> None:
        """``name_key``: the HMAC key that names accounts and addresses in the store (the hub derives it
        from its ``cache_key``, so every instance names them alike); None: one of this process only."""
        self.limits = limits
        self._shared = shared
        self._name_key = name_key or secrets.token_bytes(32)
        self._local = LocalAttempts()
        self._checks = asyncio.Semaphore(limits.check_workers)
        self._waiting = 0

    async def attempt(self, account: str, address: str, check: Callable[[], Awaitable[T | None]]) -> T | None:
        """Run ``check`` (the password check) if this account and address may try now.

        ``check`` returns None for a failed login. Raises ``TooManyAttempts`` without running it when
        they must wait, or when too many checks are queued already.
        """
        limits, now = self.limits, time.time()
        account_key, address_key = self._name("acct", account.casefold()), self._name("ip", address)
        for key in (account_key, address_key):
            await self._refuse_if_waiting(key, now)
        # The account's attempts count before the check, so a burst gets no more guesses than a sequence;
        # a success clears them. The address counts failures only: its citizens' successes are no sign.
        tried = int(await self._call("count", account_key + ":n", limits.window_seconds))
        await self._take_turn(account_key, tried - limits.per_account)
        await self._take_turn(address_key, int(await self._call("get", address_key + ":beyond") or 0))
        result = await self._bounded(check)
        if result is not None:
            await self._call("delete", *(account_key + suffix for suffix in (":n", ":until", ":turn")))
            return result
        await self._make_wait(account_key, tried - limits.per_account + 1)
        failed = int(await self._call("count", address_key + ":n", limits.window_seconds))
        await self._make_wait(address_key, failed - limits.per_address + 1)
        return None

    async def _refuse_if_waiting(self, key: str, now: float) -> None:
        until = await self._call("get", key + ":until")
        if until is not None and float(until) > now:
            raise TooManyAttempts(float(until) - now)

    async def _take_turn(self, key: str, beyond: int) -> None:
        if beyond <= 0:
            return
        # Past the limit, attempts arriving together race for one turn per wait: the first one takes it.
        wait = self.limits.wait(beyond)
        if await self._call("count", key + ":turn", wait) != 1:
            raise TooManyAttempts(wait)

    async def _make_wait(self, key: str, beyond: int) -> None:
        """The limit is reached (``beyond`` > 0): the next attempt waits, longer each time."""
        if beyond <= 0:
            return
        wait = self.limits.wait(beyond)
        await self._call("set", key + ":until", repr(time.time() + wait), wait)
        await self._call("set", key + ":beyond", str(beyond), self.limits.window_seconds)

    async def _bounded(self, check: Callable[[], Awaitable[T | None]]) -> T | None:
        # A flood of logins queues here, not in the threads every other request shares.
        if self._waiting >= self.limits.check_workers * MAX_WAITING_PER_WORKER:
            raise TooManyAttempts(1)
        self._waiting += 1
        try:
            async with self._checks:
                return await check()
        finally:
            self._waiting -= 1

    async def _call(self, op: str, *args: Any) -> Any:
        if self._shared is not None:
            try:
                return await getattr(self._shared, op)(*args)
            except Exception as exc:  # the shared store is an optimisation: never fall open, never a 500
                log.warning("login attempt store failed (%s); counting in this process", type(exc).__name__)
        return await getattr(self._local, op)(*args)

    def _name(self, kind: str, value: str) -> str:
        # Usernames (existing or not) and client addresses never reach the store in the clear, nor as a
        # bare hash anyone could reverse by trying the likely ones: an HMAC under the hub's key.
        return f"login:{kind}:" + hmac.new(self._name_key, value.encode(), hashlib.sha256).hexdigest()[:32]
