"""Grants and their refresh tokens: withdrawal reaches them, rotation has a grace interval for duplicates
(sequential and truly concurrent), and a token presented by another client is left for its owner."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from auth import clients, consent
from auth.clients import ClientType
from auth.oauth import grants
from tests.auth.oauth.driver import (
    PERSONA,
    REDIRECT,
    Browser,
    authorize,
    form_fields,
    full_flow,
    past_the_grace_interval,
    pkce_pair,
    refresh,
    refresh_record,
)

Client = tuple[str, str | None]


async def withdraw_on_the_me_page(browser: Browser, client_id: str, scope: str = "") -> None:
    """What the citizen does on "My data": withdraw the whole consent, or one scope of it."""
    [record] = [c for c in await consent.for_citizen(PERSONA.card_number) if c.client_id == client_id]
    page = await (await browser.get("/me")).text()
    data = {"csrf_token": form_fields(page)["csrf_token"], **({"scope": scope} if scope else {})}
    resp = await browser.post(f"/me/consents/{record.id}/revoke", data)
    assert resp.status == 303, await resp.text()


async def consent_again(browser: Browser, client_id: str, scopes: list[str]) -> None:
    _, challenge = pkce_pair()
    location = await authorize(browser, client_id, " ".join(scopes), allow=scopes, code_challenge=challenge,
                               code_challenge_method="S256")  # fmt: skip
    assert "code=" in location
    assert (await consent.standing(PERSONA.card_number, client_id)).scopes >= set(scopes)


# --- withdrawal ------------------------------------------------------------------------------------------


async def test_old_refresh_tokens_are_dead_after_a_withdrawal_even_once_consent_is_given_again(
    browser: Browser, app_client: Client
) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    await withdraw_on_the_me_page(browser, app_client[0])
    await consent_again(browser, app_client[0], ["transit"])

    status, error = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert (status, error["error"]) == (400, "invalid_grant")
    assert (await refresh_record(tokens["refresh_token"])).revoked_at is not None  # revoked by the withdrawal itself


async def test_withdrawing_one_scope_narrows_the_refresh_tokens_for_good(browser: Browser, app_client: Client) -> None:
    tokens, _ = await full_flow(browser, app_client, "card transit", allow=["card", "transit"])
    await withdraw_on_the_me_page(browser, app_client[0], scope="transit")
    await consent_again(browser, app_client[0], ["transit"])  # the citizen changes their mind again

    status, fresh = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert status == 200, fresh
    assert fresh["scope"] == "card"  # what the old grant still covers; transit needs a new authorization
    _, body = await browser.hub.graphql("{ me { cardNumber transit { balance } } }", fresh["access_token"])
    assert body["data"]["me"]["cardNumber"] == PERSONA.card_number


# --- the grace interval ----------------------------------------------------------------------------------


async def test_a_duplicate_refresh_within_the_grace_interval_gets_the_same_pair(
    browser: Browser, app_client: Client
) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, first = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert status == 200
    status, again = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert status == 200, again
    assert again == first
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", first["access_token"])
    assert status == 200  # the grant lives on
    status, _ = await refresh(browser.hub, app_client, first["refresh_token"])
    assert status == 200


async def test_concurrent_refreshes_within_the_grace_interval_both_succeed_with_the_same_pair(
    browser: Browser, app_client: Client
) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    (s1, one), (s2, two) = await asyncio.gather(
        refresh(browser.hub, app_client, tokens["refresh_token"]),
        refresh(browser.hub, app_client, tokens["refresh_token"]),
    )
    assert (s1, s2) == (200, 200), (one, two)
    assert one == two
    assert one["refresh_token"] != tokens["refresh_token"]
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", one["access_token"])
    assert status == 200
    grant_id = (await refresh_record(one["refresh_token"])).grant_id
    assert await grants.RefreshToken.filter(grant_id=grant_id, revoked_at=None).count() == 2  # old and new


async def test_reuse_past_the_grace_interval_still_revokes_the_grant(browser: Browser, app_client: Client) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, fresh = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert status == 200
    await past_the_grace_interval(tokens["refresh_token"])
    status, error = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", fresh["access_token"])
    assert status == 401


async def test_the_sealed_successor_reads_as_no_token_at_rest(browser: Browser, app_client: Client) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    _, fresh = await refresh(browser.hub, app_client, tokens["refresh_token"])
    record = await refresh_record(tokens["refresh_token"])
    assert record.successor
    assert fresh["access_token"] not in record.successor and fresh["refresh_token"] not in record.successor
    assert "chb_" not in record.successor and "chr_" not in record.successor


# --- another client --------------------------------------------------------------------------------------


async def other_client() -> Client:
    record, secret = await clients.create("Other App", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"transit"}),
                                          "another app")  # fmt: skip
    return record.client_id, secret


async def test_a_refresh_token_presented_by_another_client_is_left_for_its_owner(
    browser: Browser, app_client: Client
) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, error = await refresh(browser.hub, await other_client(), tokens["refresh_token"])
    assert (status, error["error"]) == (400, "invalid_grant")
    status, fresh = await refresh(browser.hub, app_client, tokens["refresh_token"])
    assert status == 200, fresh
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", fresh["access_token"])
    assert status == 200


async def test_another_client_gets_no_duplicate_and_revokes_nothing(browser: Browser, app_client: Client) -> None:
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    _, fresh = await refresh(browser.hub, app_client, tokens["refresh_token"])
    other = await other_client()
    status, error = await refresh(browser.hub, other, tokens["refresh_token"])  # within the interval
    assert (status, error["error"]) == (400, "invalid_grant")
    await past_the_grace_interval(tokens["refresh_token"])
    status, error = await refresh(browser.hub, other, tokens["refresh_token"])  # past it
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", fresh["access_token"])
    assert status == 200


# --- rotation on PostgreSQL: two transactions at once --------------------------------------------------


async def rotate_concurrently(url: str) -> None:
    from hub import database

    async with database.opened(url):
        await database.upgrade()
        grant = await grants.start("pg-app", PERSONA.card_number, "transit")
        old = grants.new_refresh_token()
        await grants.store_refresh_token(grant.id, old, "pg-app", PERSONA.card_number, "transit", 3600)
        record = await grants.find_refresh_token(old)
        assert record is not None
        pairs = [
            {"token_type": "Bearer", "access_token": f"chb_{n}", "refresh_token": grants.new_refresh_token(),
             "expires_in": 600, "scope": "transit"}
            for n in range(4)
        ]  # fmt: skip
        got = await asyncio.gather(*(grants.rotate(record, old, pair, (600, 3600), 10.0) for pair in pairs))
        assert got[0] is not None and all(g == got[0] for g in got), got
        assert await grants.RefreshToken.filter(grant_id=grant.id, revoked_at=None).count() == 2
        assert (await grants.Grant.get(id=grant.id)).revoked_at is None

        again = await grants.rotate(record, old, pairs[0], (600, 3600), 0.0)  # no grace: a duplicate is a reuse
        assert again is None
        assert (await grants.Grant.get(id=grant.id)).revoked_at is not None


async def test_concurrent_rotations_on_postgresql_give_both_the_same_pair(postgres_url: str) -> None:
    # A process of its own: in this one the models are bound to the session hub's SQLite database.
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.auth.oauth.test_grants", postgres_url],
        capture_output=True, text=True, timeout=120, check=False, cwd=Path(__file__).parents[3],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


if __name__ == "__main__":
    asyncio.run(rotate_concurrently(sys.argv[1]))
