"""Consent as a long-lived object: grant, widen, narrow, revoke, expire, with history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import consent, tokens
from auth.consent import Consent, ConsentError, ConsentEvent, ConsentStatus

ALICE, BOB = "350200000001", "350200000002"
APP = "city-app"


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    models = ["auth.consent", "auth.events", "auth.clients", "auth.tokens", "auth.oauth.grants"]
    async with tortoise_test_context(models) as ctx:
        yield ctx


async def history(consent_id: int) -> list[tuple[str, str]]:
    return [(e.action, e.scope) for e in await ConsentEvent.filter(consent_id=consent_id).order_by("id")]


async def test_grant_widen_renew_narrow_revoke_keeps_history(db: TortoiseContext) -> None:
    first = await consent.grant(ALICE, APP, frozenset({"transit"}), "show your balance")
    assert first.status is ConsentStatus.ACTIVE
    await consent.grant(ALICE, APP, frozenset({"library", "transit"}), "show your balance and loans")
    await consent.grant(ALICE, APP, frozenset({"library"}), "show your balance and loans")
    narrowed = await consent.revoke(ALICE, first.id, frozenset({"transit"}))
    assert narrowed.scopes == {"library"} and narrowed.revoked_scopes == {"transit"}
    revoked = await consent.revoke(ALICE, first.id)
    assert revoked.status is ConsentStatus.REVOKED
    assert await history(first.id) == [
        ("GRANTED", "transit"),
        ("WIDENED", "library transit"),
        ("RENEWED", "library transit"),
        ("NARROWED", "library"),
        ("REVOKED", ""),
    ]
    standing = await consent.standing(ALICE, APP)
    assert standing.status is ConsentStatus.REVOKED
    assert standing.revoked == {"library", "transit"}
    assert not standing.allows("library")


async def test_revoking_a_whole_consent_revokes_its_tokens(db: TortoiseContext) -> None:
    granted = await consent.grant(ALICE, APP, frozenset({"transit"}), "p")
    raw = await tokens.issue(APP, frozenset({"transit"}), ALICE, 600)
    other = await tokens.issue(APP, frozenset({"transit"}), BOB, 600)
    await consent.revoke(ALICE, granted.id)
    with pytest.raises(tokens.InvalidToken, match="revoked"):
        await tokens.authenticate(raw)
    assert (await tokens.authenticate(other)).citizen == BOB


async def test_a_citizen_cannot_touch_another_citizens_consent(db: TortoiseContext) -> None:
    bobs = await consent.grant(BOB, APP, frozenset({"transit"}), "p")
    with pytest.raises(ConsentError, match="no such consent"):
        await consent.revoke(ALICE, bobs.id)
    assert (await consent.standing(BOB, APP)).allows("transit")


async def test_refusals_say_why(db: TortoiseContext) -> None:
    granted = await consent.grant(ALICE, APP, frozenset({"transit"}), "p")
    with pytest.raises(ConsentError, match="none of those scopes"):
        await consent.revoke(ALICE, granted.id, frozenset({"health"}))
    await consent.revoke(ALICE, granted.id)
    with pytest.raises(ConsentError, match="already revoked"):
        await consent.revoke(ALICE, granted.id)
    with pytest.raises(ConsentError, match="at least one scope"):
        await consent.grant(ALICE, APP, frozenset(), "p")


async def test_consent_after_revoke_starts_afresh(db: TortoiseContext) -> None:
    granted = await consent.grant(ALICE, APP, frozenset({"transit", "library"}), "p")
    await consent.revoke(ALICE, granted.id)
    again = await consent.grant(ALICE, APP, frozenset({"health"}), "p2")
    assert again.id == granted.id
    assert again.status is ConsentStatus.ACTIVE
    assert again.scopes == {"health"} and again.revoked_scopes == frozenset()


async def test_expiry_is_noticed_once_and_recorded(db: TortoiseContext) -> None:
    granted = await consent.grant(ALICE, APP, frozenset({"transit"}), "p", lifetime=timedelta(seconds=-1))
    assert (await consent.standing(ALICE, APP)).status is ConsentStatus.EXPIRED
    assert (await consent.standing(ALICE, APP)).status is ConsentStatus.EXPIRED
    [listed] = await consent.for_citizen(ALICE)
    assert listed.status is ConsentStatus.EXPIRED
    assert [a for a, _ in await history(granted.id)] == ["GRANTED", "EXPIRED"]


async def test_no_consent_at_all(db: TortoiseContext) -> None:
    standing = await consent.standing(ALICE, "never-asked")
    assert standing.status is None and not standing.allows("transit")


async def test_pause_and_resume_are_in_the_history_and_leave_tokens_alive(db: TortoiseContext) -> None:
    record = await consent.grant(ALICE, APP, frozenset({"transit"}), "show your balance")
    token = await tokens.issue(APP, frozenset({"transit"}), ALICE, 600)
    paused = await consent.pause(ALICE, record.id)
    assert paused.status is ConsentStatus.PAUSED
    standing = await consent.standing(ALICE, APP)
    assert not standing.allows("transit") and standing.holds("transit")
    assert await tokens.authenticate(token) is not None  # not revoked, unlike after a withdrawal
    with pytest.raises(ConsentError, match="paused, not active"):
        await consent.pause(ALICE, record.id)
    resumed = await consent.resume(ALICE, record.id)
    assert resumed.status is ConsentStatus.ACTIVE and (await consent.standing(ALICE, APP)).allows("transit")
    assert [a for a, _ in await history(record.id)] == ["GRANTED", "PAUSED", "RESUMED"]


async def test_expiry_keeps_running_during_a_pause(db: TortoiseContext) -> None:
    record = await consent.grant(ALICE, APP, frozenset({"transit"}), "p", lifetime=timedelta(seconds=60))
    await consent.pause(ALICE, record.id)
    await Consent.filter(id=record.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await consent.expire_due() == 1
    assert (await consent.standing(ALICE, APP)).status is ConsentStatus.EXPIRED
    with pytest.raises(ConsentError, match="expired"):
        await consent.resume(ALICE, record.id)
    assert [a for a, _ in await history(record.id)] == ["GRANTED", "PAUSED", "EXPIRED"]


async def test_a_paused_consent_can_be_withdrawn_and_granting_again_resumes_it(db: TortoiseContext) -> None:
    record = await consent.grant(ALICE, APP, frozenset({"transit", "library"}), "p")
    await consent.pause(ALICE, record.id)
    narrowed = await consent.revoke(ALICE, record.id, frozenset({"library"}))
    assert narrowed.status is ConsentStatus.PAUSED and narrowed.scopes == {"transit"}
    again = await consent.grant(ALICE, APP, frozenset({"library"}), "p")
    assert again.status is ConsentStatus.ACTIVE and again.scopes == {"transit", "library"}
    assert [a for a, _ in await history(record.id)] == ["GRANTED", "PAUSED", "NARROWED", "RESUMED", "WIDENED"]
