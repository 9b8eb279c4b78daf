"""Housekeeping on SQLite and PostgreSQL: what is pruned and what never is; batches; several runs at once;
the periodic job; and two production hubs on PostgreSQL running it together."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from auth import audit, consent, tokens
from auth.audit.verify import verify as verify_log
from auth.oauth import authorization_code, grants
from auth.oauth.authorization_code import AuthorizationCode
from auth.oauth.grants import RefreshToken
from auth.tokens import AccessToken
from hub import database, housekeeping
from hub.housekeeping import Housekeeper
from tests.hub.test_cli import CARDHUB
from tests.hub.test_instances import Hub
from tests.production import production_env

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(hours=2)  # past the default prune_after_seconds (1 h)
LATELY = NOW - timedelta(minutes=10)  # expired, but not long enough to go
LATER = NOW + timedelta(days=1)
CITIZEN = "C000000001"


@pytest.fixture(autouse=True)
def fresh_insert_statements() -> Iterator[None]:
    """Tortoise caches each table's INSERT by connection name ("default" on SQLite and PostgreSQL alike):
    forget them around each test, so no test inserts with the other database's placeholders."""
    EXECUTOR_CACHE.clear()
    yield
    EXECUTOR_CACHE.clear()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/hub.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def access_token(expires_at: datetime, revoked_at: datetime | None = None) -> int:
    record = await AccessToken.create(
        token_hash=tokens.hash_token(tokens.new_token()), client_id="app", citizen=CITIZEN, scope="transit",
        issued_at=NOW - timedelta(days=40), expires_at=expires_at, revoked_at=revoked_at,
    )  # fmt: skip
    return int(record.id)


async def refresh_token(grant_id: int, expires_at: datetime, **state: datetime) -> int:
    fields: dict[str, Any] = {"issued_at": NOW - timedelta(days=40), "expires_at": expires_at, **state}
    record = await RefreshToken.create(
        token_hash=grants.hash_token(grants.new_refresh_token()), grant_id=grant_id, client_id="app",
        citizen=CITIZEN, scope="transit", **fields,
    )  # fmt: skip
    return int(record.id)


async def ids(model: Any) -> set[int]:
    return {int(i) for i in await model.all().values_list("id", flat=True)}


async def code(expires_at: datetime, used_at: datetime | None = None) -> int:
    record = await AuthorizationCode.create(
        code_hash=authorization_code.hash_code(tokens.new_token()), client_id="app", citizen=CITIZEN,
        redirect_uri="https://app.example/cb", scope="transit", code_challenge="x" * 43,
        code_challenge_method="S256", expires_at=expires_at, used_at=used_at,
    )  # fmt: skip
    return int(record.id)


async def expired_tokens(count: int) -> None:
    def expired() -> AccessToken:
        raw = tokens.new_token()
        return AccessToken(token_hash=tokens.hash_token(raw), client_id="app", citizen=None, scope="transit",
                           issued_at=LONG_AGO, expires_at=LONG_AGO)  # fmt: skip

    await AccessToken.bulk_create([expired() for _ in range(count)])


async def test_prune_deletes_expired_and_revoked_records_and_never_consents_or_the_access_log(
    database_url: str,
) -> None:
    async with database.connected(database_url):
        live = {await access_token(LATER), await access_token(LATELY), await access_token(LATER, revoked_at=LATELY)}
        await access_token(LONG_AGO)
        await access_token(LATER, revoked_at=LONG_AGO)
        grant = await grants.start("app", CITIZEN, "transit")
        await grants.Grant.filter(id=grant.id).update(created_at=LONG_AGO)  # a citizen's grant: kept, however old
        # Client-credentials grants from before they stopped being made: pruned once old enough.
        old_agency_grant = await grants.start("agency", None, "transit")
        await grants.Grant.filter(id=old_agency_grant.id).update(created_at=LONG_AGO)
        recent_agency_grant = await grants.start("agency", None, "transit")
        kept = {
            await refresh_token(grant.id, LATER),
            await refresh_token(grant.id, LATER, used_at=LONG_AGO),  # rotated: kept to catch its reuse
        }
        await refresh_token(grant.id, LONG_AGO)
        await refresh_token(grant.id, LATER, revoked_at=LONG_AGO)
        codes = {await code(NOW + timedelta(seconds=60)), await code(LATELY, used_at=LATELY)}
        await code(LONG_AGO, used_at=LONG_AGO)
        await code(LONG_AGO)

        # A consent that expired long ago and one withdrawn, and the access log: kept whole, whatever their age.
        expired = await consent.grant(CITIZEN, "app", frozenset({"transit"}), "p")
        await consent.Consent.filter(id=expired.id).update(expires_at=LONG_AGO, updated_at=LONG_AGO)
        withdrawn = await consent.grant(CITIZEN, "other", frozenset({"card"}), "p")
        await consent.revoke(CITIZEN, withdrawn.id)
        await audit.append("req-1", "app", [audit.Decision(CITIZEN, "transit", audit.Outcome.DENIED, "x")])
        history = (await consent.Consent.all().count(), await consent.ConsentEvent.all().count())

        counts = await housekeeping.prune(3600, batch_size=1000)
        assert counts == {
            "access_tokens": 2, "refresh_tokens": 2, "authorization_codes": 2, "client_credentials_grants": 1
        }  # fmt: skip
        assert await ids(AccessToken) == live
        assert await ids(RefreshToken) == kept
        assert await ids(AuthorizationCode) == codes
        assert (await consent.Consent.all().count(), await consent.ConsentEvent.all().count()) == history
        assert await audit.AuditEntry.filter(citizen=CITIZEN).count() == 1
        report = await verify_log([])  # the record is not sequenced here: nothing to sign yet
        assert (report.records + report.pending, report.fault) == (1, None)
        assert await grants.Grant.filter(id=grant.id).exists()
        assert await ids(grants.Grant) == {grant.id, recent_agency_grant.id}

        assert await housekeeping.prune(3600, batch_size=1000) == dict.fromkeys(counts, 0)  # idempotent


async def test_prune_goes_in_batches_until_done(database_url: str) -> None:
    async with database.connected(database_url):
        await expired_tokens(25)
        await access_token(LATER)
        assert (await housekeeping.prune(3600, batch_size=10))["access_tokens"] == 25
        assert await AccessToken.all().count() == 1


async def test_two_prunes_at_once_count_each_row_once(postgres_url: str) -> None:
    async with database.connected(postgres_url):
        await expired_tokens(1000)
    env = {**os.environ, **production_env(), "CARDHUB_DATABASE_URL": postgres_url, "CARDHUB_PRUNE_BATCH_SIZE": "50"}

    def prune_once() -> subprocess.CompletedProcess[str]:
        command = [CARDHUB, "db", "prune", "--json"]
        return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)

    first, second = await asyncio.gather(asyncio.to_thread(prune_once), asyncio.to_thread(prune_once))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    deleted = [json.loads(done.stdout)["deleted"]["access_tokens"] for done in (first, second)]
    assert sum(deleted) == 1000
    async with database.opened(postgres_url):
        assert await AccessToken.all().count() == 0


async def test_the_periodic_job_prunes_and_survives_a_failing_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = Housekeeper(interval_seconds=0.05, after_seconds=3600, batch_size=100)
    async with database.connected(f"sqlite://{tmp_path}/broken.sqlite3"):
        await connections.get("default").execute_script("DROP TABLE authorization_code")
        with caplog.at_level(logging.WARNING, "cardhub.housekeeping"):
            assert await keeper.run_once() is None  # logged, not raised
    assert "housekeeping failed (OperationalError" in caplog.text
    async with database.connected(f"sqlite://{tmp_path}/hub.sqlite3"):
        await expired_tokens(3)
        await keeper.start()
        try:
            for _ in range(100):
                if not await AccessToken.all().exists():
                    break
                await asyncio.sleep(0.05)
        finally:
            await keeper.close()
        assert not await AccessToken.all().exists()


async def test_two_production_hubs_on_postgres_prune_together(postgres_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **production_env(),
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/13",
        "CARDHUB_LOG_LEVEL": "INFO",
        "CARDHUB_PRUNE_INTERVAL_SECONDS": "0.5",
        "CARDHUB_PRUNE_BATCH_SIZE": "100",
    }
    done = await asyncio.to_thread(
        subprocess.run, [CARDHUB, "db", "upgrade"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    async with database.opened(postgres_url):
        await expired_tokens(2000)
        grant = await grants.start("app", CITIZEN, "transit")
        for _ in range(30):
            await refresh_token(grant.id, LONG_AGO)
        await refresh_token(grant.id, LATER)
    hubs = [Hub(env, tmp_path / "first.log"), Hub(env, tmp_path / "second.log")]
    try:
        for one in hubs:
            await asyncio.to_thread(one.wait_ready)
        async with database.opened(postgres_url):
            for _ in range(100):
                if not await AccessToken.all().exists() and await RefreshToken.all().count() == 1:
                    break
                await asyncio.sleep(0.1)
            assert not await AccessToken.all().exists()
            assert await RefreshToken.all().count() == 1
        await asyncio.sleep(1)  # a run in flight finishes and logs
    finally:
        for one in hubs:
            one.stop()
    logs = [one.log.read_text() for one in hubs]
    assert not any("housekeeping failed" in text or "Traceback" in text for text in logs), logs
    pruned = [re.findall(r"housekeeping pruned (\d+) access_tokens, (\d+) refresh_tokens", text) for text in logs]
    assert sum(int(a) for runs in pruned for a, _ in runs) == 2000
    assert sum(int(r) for runs in pruned for _, r in runs) == 30
