"""Password checks: scrypt on threads of its own, a few at a time, and an unknown username costs a hash too."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from auth import login
from auth.login import PasswordTable


@pytest.fixture(scope="module")
def table() -> PasswordTable:
    return PasswordTable.from_passwords([("alice", "alice-pass", "350200000001")])


async def test_an_unknown_username_runs_the_hash_too(table: PasswordTable, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = login.verify_password

    def recording(password: str, stored: str) -> bool:
        threads.append(threading.current_thread().name)
        return real(password, stored)

    monkeypatch.setattr(login, "verify_password", recording)
    assert await table.authenticate("nobody", "alice-pass") is None
    assert await table.authenticate("alice", "wrong") is None
    assert await table.authenticate("alice", "alice-pass") == "350200000001"
    assert len(threads) == 3
    assert all(name.startswith("cardhub-scrypt") for name in threads)  # never the threads others share


async def test_a_login_flood_runs_a_few_hashes_at_a_time_and_leaves_the_default_threads_free(
    table: PasswordTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def slow(password: str, stored: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(login, "verify_password", slow)
    flood = asyncio.gather(*(table.authenticate("alice", f"guess{n}") for n in range(40)))
    started = time.perf_counter()
    await asyncio.to_thread(lambda: None)  # the shared pool answers at once, flood or not
    assert time.perf_counter() - started < 0.1
    assert await flood == [None] * 40
    assert most == login.HASHING_THREADS
