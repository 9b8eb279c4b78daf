"""Login throttling: per account and per address, growing waits, bursts, a failing shared store, and two
hub processes counting together through Redis."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from auth.throttle import LocalAttempts, LoginLimits, LoginThrottle, TooManyAttempts
from keys.keyring import generate
from sandbox.personas import PERSONAS
from tests.auth.oauth.driver import form_fields
from tests.cache.conftest import redis_running
from tests.hub.test_instances import Hub

WRONG: None = None
LIMITS = LoginLimits(per_account=3, per_address=10, delay_seconds=0.2, max_delay_seconds=10.0)


class Checks:
    """Stands in for the password check: counts the runs, answers as told."""

    def __init__(self, answer: str | None = None, seconds: float = 0.0) -> None:
        self.runs = 0
        self.running = 0
        self.most = 0
        self.answer = answer
        self.seconds = seconds

    async def __call__(self) -> str | None:
        self.runs += 1
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.seconds)
        self.running -= 1
        return self.answer


async def test_failures_past_the_limit_wait_longer_each_time() -> None:
    throttle, wrong = LoginThrottle(LIMITS), Checks()
    for _ in range(3):
        assert await throttle.attempt("alice", "10.0.0.1", wrong) is None
    with pytest.raises(TooManyAttempts) as refused:
        await throttle.attempt("alice", "10.0.0.1", wrong)
    assert refused.value.retry_after == 1  # 0.2 s, rounded up to whole seconds for Retry-After
    assert wrong.runs == 3  # refused without a password check

    await asyncio.sleep(0.25)
    assert await throttle.attempt("alice", "10.0.0.1", wrong) is None  # one more try after the wait
    await asyncio.sleep(0.25)
    with pytest.raises(TooManyAttempts):  # the wait doubled to 0.4 s
        await throttle.attempt("alice", "10.0.0.1", wrong)
    await asyncio.sleep(0.2)
    assert await throttle.attempt("alice", "10.0.0.1", Checks("card")) == "card"
    assert await throttle.attempt("alice", "10.0.0.1", wrong) is None  # a success starts the count afresh


async def test_a_burst_gets_no_more_checks_than_a_sequence() -> None:
    throttle, wrong = LoginThrottle(LIMITS), Checks(seconds=0.05)
    answers = await asyncio.gather(
        *(throttle.attempt("bob", "10.0.0.2", wrong) for _ in range(20)), return_exceptions=True
    )
    assert wrong.runs == 4  # the three allowed, then one turn past the limit
    assert sum(isinstance(a, TooManyAttempts) for a in answers) == 16


async def test_failures_from_one_address_are_limited_across_accounts() -> None:
    throttle, wrong = LoginThrottle(LIMITS), Checks()
    for n in range(10):
        await throttle.attempt(f"user{n}", "10.0.0.3", wrong)
    with pytest.raises(TooManyAttempts):
        await throttle.attempt("someone-else", "10.0.0.3", wrong)
    assert await throttle.attempt("someone-else", "10.0.0.4", Checks("card")) == "card"  # another address


async def test_password_checks_run_a_few_at_a_time_and_a_flood_is_refused() -> None:
    throttle = LoginThrottle(LoginLimits(per_account=1000, per_address=1000, check_workers=2))
    slow = Checks("card", seconds=0.02)
    answers = await asyncio.gather(
        *(throttle.attempt(f"u{n}", f"10.1.0.{n}", slow) for n in range(50)), return_exceptions=True
    )
    assert slow.most == 2
    assert all(a == "card" for a in answers)
    flood = await asyncio.gather(
        *(throttle.attempt(f"v{n}", f"10.2.{n // 250}.{n % 250}", slow) for n in range(200)), return_exceptions=True
    )
    assert any(isinstance(a, TooManyAttempts) for a in flood)  # past 64 waiting, refused at once


class BrokenStore(LocalAttempts):
    async def count(self, name: str, window_seconds: float) -> int:
        raise ConnectionError("redis is down")

    async def get(self, key: str) -> Any | None:
        raise ConnectionError("redis is down")

    async def set(self, key: str, value: Any, expire_seconds: float) -> None:
        raise ConnectionError("redis is down")

    async def delete(self, *keys: str) -> None:
        raise ConnectionError("redis is down")


async def test_a_failing_shared_store_falls_back_to_this_process_never_open() -> None:
    throttle, wrong = LoginThrottle(LIMITS, shared=BrokenStore()), Checks()
    for _ in range(3):
        await throttle.attempt("carol", "10.0.0.5", wrong)
    with pytest.raises(TooManyAttempts):
        await throttle.attempt("carol", "10.0.0.5", wrong)


def test_waits_double_up_to_the_maximum() -> None:
    limits = LoginLimits(delay_seconds=1.0, max_delay_seconds=900.0)
    assert [limits.wait(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert limits.wait(100) == 900.0


# --- two hub processes, one Redis --------------------------------------------------------------------------

REDIS_DB = "redis://127.0.0.1:6379/12"
SESSION_KEY = generate("both-instances")
PERSONA = PERSONAS[5]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=False, capture_output=True)
    yield {
        **os.environ,
        "CARDHUB_MODE": "sandbox",
        "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path / 'hub.sqlite3'}",
        "CARDHUB_CACHE_URL": REDIS_DB,
        "CARDHUB_SESSION_SECRET": SESSION_KEY,  # the same on both instances
        "CARDHUB_LOG_LEVEL": "WARNING",
        "CARDHUB_LOGIN_ATTEMPTS_PER_ACCOUNT": "3",
        "CARDHUB_LOGIN_DELAY_SECONDS": "60",
    }
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=False, capture_output=True)


@pytest.fixture
async def hubs(env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[Hub, Hub]]:
    first = Hub(env, tmp_path / "first.log")
    await asyncio.to_thread(first.wait_ready)
    second = Hub(env, tmp_path / "second.log")
    try:
        await asyncio.to_thread(second.wait_ready)
        yield first, second
    finally:
        first.stop()
        second.stop()


async def log_in(hub: Hub, username: str, password: str) -> tuple[int, str, str | None]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(hub.url + "/login") as resp:
            page = await resp.text()
        data = {"username": username, "password": password, **form_fields(page)}
        async with http.post(hub.url + "/login", data=data, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers.get("Retry-After")


async def test_login_throttled_across_two_instances(hubs: tuple[Hub, Hub]) -> None:
    one, other = hubs
    for _ in range(3):
        status, _, _ = await log_in(one, PERSONA.username, "not-the-password")
        assert status == 401
    status, page, retry_after = await log_in(other, PERSONA.username, PERSONA.password)  # the right one, even
    assert status == 429, page
    assert retry_after is not None and 1 <= int(retry_after) <= 60
    assert 'id="login-error"' in page

    # An account that does not exist is answered the same way, on either instance.
    for _ in range(3):
        status, _, _ = await log_in(other, "nobody-at-all", "not-the-password")
        assert status == 401
    status, unknown_page, unknown_retry = await log_in(one, "nobody-at-all", "whatever")
    assert status == 429
    assert unknown_retry is not None and 1 <= int(unknown_retry) <= 60

    def without_user(text: str) -> str:
        text = re.sub(r'name="csrf_token" value="[^"]*"', "", text)
        return text.replace(PERSONA.username, "").replace("nobody-at-all", "")

    assert without_user(unknown_page) == without_user(page)

    # What Redis holds names no username and no address, not even as a bare hash anyone could reverse.
    redis = aioredis.Redis.from_url(REDIS_DB, decode_responses=True)
    try:
        names = [str(n) for n in await redis.keys("*")]
    finally:
        await redis.aclose()
    login = [n for n in names if ":login:" in n]
    assert login, names
    bare = hashlib.sha256(PERSONA.username.casefold().encode()).hexdigest()[:32]
    assert not any(PERSONA.username in n or bare in n or "127.0.0.1" in n for n in login)
