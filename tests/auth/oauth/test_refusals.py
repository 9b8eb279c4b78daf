"""What the authorization server must refuse, each with a standard OAuth error and nothing recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from oauthlib.oauth2 import WebApplicationClient

from auth import clients, consent, tokens
from auth.clients import ClientType
from auth.oauth.authorization_code import AuthorizationCode
from tests.auth.oauth.driver import (
    PERSONA,
    REDIRECT,
    Browser,
    authorize,
    code_from,
    form_fields,
    pkce_pair,
    post_form,
    token_request,
)
from tests.conftest import RunningHub


def error_of(location: str) -> str:
    params = parse_qs(urlsplit(location).query)
    assert params.get("state") == ["st-1"]
    return params["error"][0]


async def a_code(browser: Browser, client: tuple[str, str | None], scope: str = "transit") -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    location = await authorize(
        browser, client[0], scope, allow=scope.split(), code_challenge=challenge, code_challenge_method="S256"
    )
    return code_from(location), verifier


def exchange(client_id: str, code: str, verifier: str | None) -> str:
    body: str = WebApplicationClient(client_id).prepare_request_body(
        code=code, redirect_uri=REDIRECT, code_verifier=verifier, include_client_id=True
    )
    return body


async def test_a_code_works_once_and_a_replay_revokes_what_it_gave(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    client_id, secret = app_client
    code, verifier = await a_code(browser, app_client)
    status, tokens = await token_request(browser.hub, client_id, secret, exchange(client_id, code, verifier))
    assert status == 200
    status, error = await token_request(browser.hub, client_id, secret, exchange(client_id, code, verifier))
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", tokens["access_token"])
    assert status == 401  # RFC 6749 4.1.2: tokens issued on a replayed code are revoked


async def test_wrong_or_missing_verifier_is_refused(browser: Browser, app_client: tuple[str, str | None]) -> None:
    client_id, secret = app_client
    code, _ = await a_code(browser, app_client)
    status, error = await token_request(browser.hub, client_id, secret, exchange(client_id, code, "x" * 50))
    assert (status, error["error"]) == (400, "invalid_grant")
    code, _ = await a_code(browser, app_client)
    status, error = await token_request(browser.hub, client_id, secret, exchange(client_id, code, None))
    assert (status, error["error"]) == (400, "invalid_request")


async def test_an_expired_code_is_refused(browser: Browser, app_client: tuple[str, str | None]) -> None:
    client_id, secret = app_client
    code, verifier = await a_code(browser, app_client)
    await AuthorizationCode.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    status, error = await token_request(browser.hub, client_id, secret, exchange(client_id, code, verifier))
    assert (status, error["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({}, "Missing 'code_challenge'"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": "a" * 43}, "S256"),  # a missing method is not taken as plain
    ],
    ids=["no-pkce", "plain", "no-method"],
)
async def test_pkce_is_required_and_only_s256(
    browser: Browser, app_client: tuple[str, str | None], extra: dict[str, str], why: str
) -> None:
    await browser.login(PERSONA.username, PERSONA.password)
    url = WebApplicationClient(app_client[0]).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope="transit", state="st-1", **extra
    )
    resp = await browser.get(url)
    assert resp.status == 302
    assert error_of(resp.headers["Location"]) == "invalid_request"
    assert why in parse_qs(urlsplit(resp.headers["Location"]).query)["error_description"][0]


async def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(
    browser: Browser, app_client: tuple[str, str | None]
) -> None:
    _, challenge = pkce_pair()
    url = WebApplicationClient(app_client[0]).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri="http://127.0.0.1:9/callback/../evil", scope="transit",
        state="st-1", code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    resp = await browser.get(url)
    assert resp.status == 400
    assert "Location" not in resp.headers
    assert "Traceback" not in await resp.text()


@pytest.mark.parametrize("scope", ["transit everything", "library"], ids=["unknown", "not-registered-for-client"])
async def test_scopes_outside_the_catalogue_or_the_client_are_refused(
    browser: Browser, app_client: tuple[str, str | None], scope: str
) -> None:
    await browser.login(PERSONA.username, PERSONA.password)
    _, challenge = pkce_pair()
    url = WebApplicationClient(app_client[0]).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope=scope, state="st-1",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    resp = await browser.get(url)
    assert resp.status == 302
    assert error_of(resp.headers["Location"]) == "invalid_scope"


async def test_denying_on_the_consent_page_records_nothing(browser: Browser, hub: RunningHub) -> None:
    client, _ = await clients.create("Deny Me", ClientType.PUBLIC, [REDIRECT], frozenset({"library"}), "p")
    _, challenge = pkce_pair()
    location = await authorize(
        browser, client.client_id, "library", allow=None, code_challenge=challenge, code_challenge_method="S256"
    )
    assert error_of(location) == "access_denied"
    assert (await consent.standing(PERSONA.card_number, client.client_id)).status is None


async def test_a_consent_post_without_its_csrf_token_is_refused(browser: Browser, hub: RunningHub) -> None:
    client, _ = await clients.create("Forged Post", ClientType.PUBLIC, [REDIRECT], frozenset({"library"}), "p")
    await browser.login(PERSONA.username, PERSONA.password)
    _, challenge = pkce_pair()
    url = WebApplicationClient(client.client_id).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope="library", state="st-1",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    page = await (await browser.get(url)).text()
    fields = form_fields(page)
    fields.pop("csrf_token")
    resp = await browser.post("/oauth/authorize", {**fields, "scope": "library", "decision": "allow"})
    assert resp.status == 403
    assert (await consent.standing(PERSONA.card_number, client.client_id)).status is None


async def test_a_tampered_consent_form_cannot_widen_what_was_asked(browser: Browser, hub: RunningHub) -> None:
    client, secret = await clients.create(
        "Tamper", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"library", "health"}), "p"
    )
    await browser.login(PERSONA.username, PERSONA.password)
    verifier, challenge = pkce_pair()
    url = WebApplicationClient(client.client_id).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope="library", state="st-1",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    fields = form_fields(await (await browser.get(url)).text())
    data = [*fields.items(), ("scope", "library"), ("scope", "health"), ("decision", "allow")]
    resp = await browser.post("/oauth/authorize", data)
    status, tokens = await token_request(
        hub, client.client_id, secret, exchange(client.client_id, code_from(resp.headers["Location"]), verifier)
    )
    assert status == 200
    assert tokens["scope"] == "library"
    assert not (await consent.standing(PERSONA.card_number, client.client_id)).allows("health")


async def test_client_authentication_and_grant_types_per_client_type(hub: RunningHub) -> None:
    agency, secret = await clients.create("Agency X", ClientType.AGENCY, [], frozenset({"transit"}), "ops")
    assert secret is not None
    status, token = await post_form(hub, "/oauth/token", agency.client_id, secret, "grant_type=client_credentials")
    assert status == 200
    assert "refresh_token" not in token
    status, error = await post_form(
        hub, "/oauth/token", agency.client_id, secret + "x", "grant_type=client_credentials"
    )
    assert (status, error["error"]) == (401, "invalid_client")
    app, app_secret = await clients.create("App Y", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"transit"}), "p")
    status, error = await post_form(hub, "/oauth/token", app.client_id, app_secret, "grant_type=client_credentials")
    assert error["error"] == "unauthorized_client"


async def test_client_credentials_stay_within_the_registered_scopes(hub: RunningHub) -> None:
    agency, secret = await clients.create("Agency Z", ClientType.AGENCY, [], frozenset({"card", "transit"}), "ops")
    status, error = await post_form(
        hub, "/oauth/token", agency.client_id, secret, "grant_type=client_credentials&scope=health"
    )
    assert (status, error["error"]) == (400, "invalid_scope")
    status, token = await post_form(hub, "/oauth/token", agency.client_id, secret, "grant_type=client_credentials")
    assert status == 200
    assert token["scope"] == "card transit"


async def test_deny_means_deny_even_with_earlier_consent(browser: Browser, hub: RunningHub) -> None:
    client, _ = await clients.create("Ask More", ClientType.PUBLIC, [REDIRECT], frozenset({"card", "library"}), "p")
    await consent.grant(PERSONA.card_number, client.client_id, frozenset({"card"}), "p")
    _, challenge = pkce_pair()
    location = await authorize(
        browser, client.client_id, "card library", allow=None, code_challenge=challenge, code_challenge_method="S256"
    )
    assert error_of(location) == "access_denied"


async def test_plain_http_to_a_public_host_is_refused_not_a_crash(hub: RunningHub) -> None:
    async with hub.http.post(
        hub.url + "/oauth/token", data="grant_type=client_credentials", headers={
            "Host": "hub.example", "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as resp:  # fmt: skip
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_a_public_client_revokes_its_own_token_without_a_secret(browser: Browser, hub: RunningHub) -> None:
    client, secret = await clients.create("Phone App", ClientType.PUBLIC, [REDIRECT], frozenset({"transit"}), "p")
    assert secret is None
    verifier, challenge = pkce_pair()
    # No redirect_uri in the request: the client's only registered one is used, and omitted again below.
    url = WebApplicationClient(client.client_id).prepare_request_uri(
        browser.hub.url + "/oauth/authorize", scope="transit", state="st-1", code_challenge=challenge,
        code_challenge_method="S256",
    )  # fmt: skip
    resp = await browser.get(url)
    if resp.status == 303:
        await browser.login(PERSONA.username, PERSONA.password)
        resp = await browser.get(url)
    page = await resp.text()
    resp = await browser.post("/oauth/authorize", [*form_fields(page).items(), ("scope", "transit"),
                                                   ("decision", "allow")])  # fmt: skip
    code = code_from(resp.headers["Location"])
    body = f"grant_type=authorization_code&code={code}&code_verifier={verifier}&client_id={client.client_id}"
    status, tokens = await post_form(hub, "/oauth/token", client.client_id, None, body)
    assert status == 200, tokens
    status, _ = await post_form(
        hub, "/oauth/revoke", client.client_id, None, f"token={tokens['access_token']}&client_id={client.client_id}"
    )
    assert status == 200
    status, _ = await hub.graphql("{ me { cardNumber } }", tokens["access_token"])
    assert status == 401


async def test_a_citizen_consents_to_an_agency_on_the_consent_page(browser: Browser, hub: RunningHub) -> None:
    agency, secret = await clients.create(
        "Hospital Registry", ClientType.AGENCY, [REDIRECT], frozenset({"card", "health"}), "patient registration"
    )
    assert secret is not None
    _, challenge = pkce_pair()
    location = await authorize(
        browser, agency.client_id, "card", allow=["card"], code_challenge=challenge, code_challenge_method="S256"
    )
    assert "code=" in location
    status, token = await post_form(hub, "/oauth/token", agency.client_id, secret, "grant_type=client_credentials")
    assert status == 200
    _, body = await hub.graphql(
        f'{{ citizen(cardNumber: "{PERSONA.card_number}") {{ name health {{ healthCardNumber }} }} }}',
        token["access_token"],
    )
    assert body["data"]["citizen"]["name"] == PERSONA.name
    assert body["data"]["citizen"]["health"] is None  # consented to card only


async def test_a_repeated_parameter_is_refused_at_the_token_endpoint(hub: RunningHub) -> None:
    agency, secret = await clients.create("CC Repeats", ClientType.AGENCY, [], frozenset({"transit"}), "ops")
    assert secret is not None
    for body in (
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=transit&scope=card",
    ):
        status, answer = await token_request(hub, agency.client_id, secret, body)
        assert (status, answer["error"]) == (400, "invalid_request"), body
        assert "repeated parameter" in answer["error_description"]
    assert await tokens.AccessToken.filter(client_id=agency.client_id).count() == 0
