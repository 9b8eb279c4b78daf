"""Disabling, enabling and deleting a client against the running hub: its tokens die on the next request,
it gets no new ones, and deleting it keeps the consents and the access log that name it."""

from __future__ import annotations

from auth import audit, clients, consent, tokens
from auth.audit.verify import verify as verify_log
from auth.clients import ClientState, ClientType
from auth.oauth import client_management, grants
from tests.auth.oauth.driver import PERSONA, Browser, full_flow, post_form, refresh, token_request
from tests.conftest import RunningHub

ME = "{ me { cardNumber transit { balance } } }"


async def test_a_disabled_clients_tokens_are_refused_on_the_next_request_and_it_gets_no_new_ones(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    client_id, secret = app_client
    issued, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, _ = await browser.hub.graphql(ME, issued["access_token"])
    assert status == 200

    _, revoked = await client_management.disable(client_id)
    assert revoked == 1
    status, body = await browser.hub.graphql(ME, issued["access_token"])
    assert status == 401, body
    status, body = await refresh(browser.hub, app_client, issued["refresh_token"])
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await post_form(browser.hub, "/oauth/introspect", client_id, secret, "token=x")
    assert (status, body["error"]) == (401, "invalid_client")
    record = await grants.RefreshToken.get(token_hash=grants.hash_token(issued["refresh_token"]))
    assert record.revoked_at is not None  # revoked, not only refused while disabled

    # A token issued while the disable ran (it passed the client check before) is refused all the same.
    late = await tokens.issue(client_id, frozenset({"transit"}), PERSONA.card_number, 600)
    status, _ = await browser.hub.graphql(ME, late)
    assert status == 401

    await client_management.enable(client_id)
    status, _ = await browser.hub.graphql(ME, issued["access_token"])
    assert status == 401, "enabling does not bring old tokens back"
    status, _ = await browser.hub.graphql(ME, late)
    assert status == 401, "nor one issued while the disable ran"
    status, body = await refresh(browser.hub, app_client, issued["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    again, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, _ = await browser.hub.graphql(ME, again["access_token"])
    assert status == 200


async def test_a_disabled_agency_gets_no_client_credentials_token(hub: RunningHub) -> None:
    agency, secret = await clients.create("Disabled Transit", ClientType.AGENCY, [], frozenset({"transit"}), "fares")
    body = "grant_type=client_credentials"
    status, _ = await token_request(hub, agency.client_id, secret, body)
    assert status == 200
    await client_management.disable(agency.client_id)
    status, answer = await token_request(hub, agency.client_id, secret, body)
    assert (status, answer["error"]) == (401, "invalid_client")


async def test_deleting_keeps_consent_history_and_the_access_log_readable(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    client_id, secret = app_client
    issued, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    _, body = await browser.hub.graphql(ME, issued["access_token"])
    assert body["data"]["me"]["transit"] is not None
    logged = await audit.AuditEntry.filter(client_id=client_id).count()
    consents = await consent.Consent.filter(client_id=client_id).count()
    assert logged and consents

    client, _ = await client_management.delete(client_id)
    assert client.state is ClientState.DELETED and client.secret_hash is None
    status, _ = await browser.hub.graphql(ME, issued["access_token"])
    assert status == 401
    status, _ = await token_request(browser.hub, client_id, secret, "grant_type=client_credentials")
    assert status == 401

    kept = await clients.find(client_id)
    assert kept is not None and kept.name == "Test Clinic App"  # the history can still name it
    assert await audit.AuditEntry.filter(client_id=client_id).count() == logged
    assert await consent.Consent.filter(client_id=client_id).count() == consents
    assert (await verify_log(browser.hub.app.state.audit_sequencer.signer.verifier_keys())).fault is None
    again, _ = await client_management.delete(client_id)  # deleting twice changes nothing
    assert again.deleted_at == client.deleted_at
