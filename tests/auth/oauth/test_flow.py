"""The authorization-code flow with PKCE, driven by oauthlib (a client library independent of Authlib)
against the real server over HTTP: login, consent, code, token, refresh, revoke, introspect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from oauthlib.oauth2 import WebApplicationClient

from auth import clients
from auth.clients import ClientType
from tests.auth.oauth.driver import (
    PERSONA,
    Browser,
    authorize,
    full_flow,
    past_the_grace_interval,
    pkce_pair,
    post_form,
    token_request,
)
from tests.conftest import RunningHub

# --- the happy path --------------------------------------------------------------------------------------


async def test_code_flow_with_pkce_issues_tokens_for_what_the_citizen_allowed(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    tokens, location = await full_flow(browser, app_client, "card transit health", allow=["card", "transit"])
    assert parse_qs(urlsplit(location).query)["iss"] == [browser.hub.url]  # RFC 9207
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 600
    assert set(tokens["scope"].split()) == {"card", "transit"}  # health was left unchecked
    assert tokens["refresh_token"].startswith("chr_")

    _, body = await browser.hub.graphql("{ me { cardNumber transit { balance } health { healthCardNumber } } }",
                                        tokens["access_token"])  # fmt: skip
    assert body["data"]["me"]["cardNumber"] == PERSONA.card_number
    assert body["data"]["me"]["transit"] is not None
    assert body["data"]["me"]["health"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REQUIRED"


async def test_reauthorizing_within_consent_skips_the_screen(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    await full_flow(browser, app_client, "card transit", allow=["card", "transit"])
    _, challenge = pkce_pair()
    # allow=None would answer "deny" on a consent page: reaching the redirect without one proves the skip.
    location = await authorize(
        browser, app_client[0], "transit", allow=None, code_challenge=challenge, code_challenge_method="S256"
    )
    assert "code=" in location


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_grant(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    client_id, secret = app_client
    first, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    oauth = WebApplicationClient(client_id)
    status, second = await token_request(
        browser.hub, client_id, secret, oauth.prepare_refresh_body(refresh_token=first["refresh_token"])
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    await past_the_grace_interval(first["refresh_token"])

    status, error = await token_request(
        browser.hub, client_id, secret, oauth.prepare_refresh_body(refresh_token=first["refresh_token"])
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    # Reuse means a copy is out there: everything in the grant is dead, the newest tokens too.
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", second["access_token"])
    assert status == 401
    status, error = await token_request(
        browser.hub, client_id, secret, oauth.prepare_refresh_body(refresh_token=second["refresh_token"])
    )
    assert error["error"] == "invalid_grant"


async def test_revocation_and_introspection(browser: Browser, app_client: tuple[str, str | None]) -> None:
    client_id, secret = app_client
    tokens, _ = await full_flow(browser, app_client, "transit", allow=["transit"])
    status, info = await post_form(
        browser.hub, "/oauth/introspect", client_id, secret, f"token={tokens['access_token']}"
    )
    assert status == 200
    assert info["active"] is True
    assert info["sub"] == PERSONA.card_number
    assert info["client_id"] == client_id

    other, other_secret = await clients.create(
        "Snoop", ClientType.CONFIDENTIAL, ["https://snoop.example/cb"], frozenset({"transit"}), "p"
    )
    status, info = await post_form(
        browser.hub, "/oauth/introspect", other.client_id, other_secret, f"token={tokens['access_token']}"
    )
    assert status != 200 or info.get("active") is not True  # another client learns nothing
    status, info = await post_form(browser.hub, "/oauth/introspect", client_id, None, f"token={tokens['access_token']}")
    assert status == 401  # unauthenticated callers are refused

    status, _ = await post_form(
        browser.hub,
        "/oauth/revoke",
        client_id,
        secret,
        f"token={tokens['refresh_token']}&token_type_hint=refresh_token",
    )
    assert status == 200
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", tokens["access_token"])
    assert status == 401  # revoking the refresh token revoked its grant (RFC 7009 2.1)
    _, info = await post_form(browser.hub, "/oauth/introspect", client_id, secret, f"token={tokens['access_token']}")
    assert info == {"active": False}


async def test_metadata(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/.well-known/oauth-authorization-server") as resp:
        meta = await resp.json()
    assert meta["issuer"] == hub.url
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert set(meta["scopes_supported"]) == {
        "card",
        "social_security",
        "transit",
        "health",
        "housing_fund",
        "library",
        "connectors:manage",
    }
    assert {d["scope"] for d in meta["scope_details"] if d["sensitive"]} == {"health", "housing_fund"}
