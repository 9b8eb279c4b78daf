"""Client credentials on the event loop (auth/oauth/client_credentials.py): it issues only what Authlib
would have issued, in the same form, with no grant row; everything else is left to Authlib's refusals;
and a secret rotated or a client disabled is refused on the very next request."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

from anyio import to_thread

from auth import clients, tokens
from auth.clients import ClientType
from auth.epoch import NO_FENCE
from auth.group_commit import GroupCommit
from auth.oauth import client_credentials, grants
from auth.oauth.server import FormRequest, HubAuthorizationServer, Lifetimes, OAuthResponse
from auth.scopes import READ_SCOPES as READ
from tests.auth.oauth.driver import REDIRECT, token_request
from tests.conftest import RunningHub

URL = "http://127.0.0.1/oauth/token"
FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def request(fields: list[tuple[str, str]], authorization: str | None = None) -> FormRequest:
    data: dict[str, list[str]] = {}
    for key, value in fields:
        data.setdefault(key, []).append(value)
    headers = {"Content-Type": FORM, **({"Authorization": authorization} if authorization else {})}
    return FormRequest("POST", URL, headers, data)


async def test_it_issues_exactly_what_authlib_issues_and_leaves_every_refusal_to_authlib(hub: RunningHub) -> None:
    agency, secret = await clients.create("CC Transit", ClientType.AGENCY, [], frozenset({"card", "transit"}), "ops")
    app, app_secret = await clients.create("CC App", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"card"}), "p")
    assert secret is not None and app_secret is not None
    cid = agency.client_id
    grant = [("grant_type", "client_credentials")]
    handled = {
        "basic, default scope": request(grant, basic(cid, secret)),
        "basic, one scope": request([*grant, ("scope", "transit")], basic(cid, secret)),
        "basic, scopes in the client's order": request([*grant, ("scope", "transit card")], basic(cid, secret)),
        "post": request([*grant, ("client_id", cid), ("client_secret", secret)]),
    }
    refused = {
        "a scope not registered": request([*grant, ("scope", "health")], basic(cid, secret)),
        "a scope nobody supports": request([*grant, ("scope", "everything")], basic(cid, secret)),
        "a wrong secret": request(grant, basic(cid, secret + "x")),
        "a wrong secret by post": request([*grant, ("client_id", cid), ("client_secret", "chs_x")]),
        "an unknown client": request(grant, basic("nobody", secret)),
        "another grant type": request([("grant_type", "authorization_code")], basic(cid, secret)),
        "no grant type": request([], basic(cid, secret)),
        "an app client": request(grant, basic(app.client_id, app_secret)),
        "Basic that is not base64": request(grant, "Basic %%%not-base64"),
        "Basic without a colon": request(grant, "Basic " + base64.b64encode(cid.encode()).decode()),
        "a Bearer header": request(grant, "Bearer " + secret),
        "no credentials": request(grant),
    }
    # Repeated parameters never reach either path (the endpoint refuses them, see below); declined all the same.
    for repeated in ([*grant, *grant], [*grant, ("scope", "card"), ("scope", "transit")]):
        assert await client_credentials.issue(request(repeated, basic(cid, secret)), NO_FENCE, 600, READ) is None
    server = HubAuthorizationServer("http://127.0.0.1", Lifetimes())
    supported = server.scopes_supported
    for name, candidate in {**handled, **refused}.items():
        fast = await client_credentials.issue(candidate, NO_FENCE, 600, supported)
        authlib: OAuthResponse = await to_thread.run_sync(server.create_token_response, candidate)
        if name in refused:
            assert fast is None, name
            assert authlib.status != 200, (name, authlib.body)
            continue
        assert fast is not None, name
        assert authlib.status == fast.status == 200, (name, authlib.body)
        assert fast.headers == authlib.headers, name
        assert {**fast.body, "access_token": "-"} == {**authlib.body, "access_token": "-"}, name
        held = await tokens.authenticate(fast.body["access_token"])
        assert (held.client_id, held.citizen, held.scopes) == (cid, None, frozenset(fast.body["scope"].split()))
    # Neither path leaves a grant for a client-credentials token: nothing is refreshed or consented under it.
    assert await grants.Grant.filter(client_id=cid).count() == 0
    assert await tokens.AccessToken.filter(client_id=cid).exclude(grant_id=None).count() == 0


async def test_a_rotated_secret_or_a_disabled_client_is_refused_on_the_next_request(hub: RunningHub) -> None:
    agency, secret = await clients.create("CC Rotating", ClientType.AGENCY, [], frozenset({"transit"}), "ops")
    assert secret is not None
    body = "grant_type=client_credentials"
    for _ in range(2):  # the second one is served from memory
        status, _ = await token_request(hub, agency.client_id, secret, body)
        assert status == 200

    _, graced = await clients.rotate_secret(agency.client_id, grace=timedelta(minutes=5))
    assert (await token_request(hub, agency.client_id, secret, body))[0] == 200  # within its grace
    assert (await token_request(hub, agency.client_id, graced, body))[0] == 200

    _, newest = await clients.rotate_secret(agency.client_id)  # no grace: the earlier ones end now
    status, answer = await token_request(hub, agency.client_id, graced, body)
    assert (status, answer["error"]) == (401, "invalid_client")
    assert (await token_request(hub, agency.client_id, newest, body))[0] == 200

    await clients.set_disabled(agency.client_id, True, datetime.now(UTC))
    status, answer = await token_request(hub, agency.client_id, newest, body)
    assert (status, answer["error"]) == (401, "invalid_client")


async def test_concurrent_tokens_share_commits_and_each_is_stored_before_it_is_answered(hub: RunningHub) -> None:
    agency, secret = await clients.create("CC Busy", ClientType.AGENCY, [], frozenset({"transit"}), "ops")
    assert secret is not None
    writes = GroupCommit(tokens.AccessToken)
    grant = request([("grant_type", "client_credentials")], basic(agency.client_id, secret))

    async def one() -> str:
        answer = await client_credentials.issue(grant, NO_FENCE, 600, READ, writes)
        assert answer is not None
        raw: str = answer.body["access_token"]
        assert (await tokens.authenticate(raw)).client_id == agency.client_id  # committed when answered
        return raw

    issued = await asyncio.gather(*(one() for _ in range(20)))
    assert len(set(issued)) == 20
    assert 1 <= writes.rounds < 20, "concurrent requests should have shared commits"
