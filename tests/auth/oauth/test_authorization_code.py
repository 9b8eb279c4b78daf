"""A code is used up only after its client, redirect URI and PKCE verifier have been checked."""

from __future__ import annotations

import asyncio

from oauthlib.oauth2 import WebApplicationClient

from auth import clients
from auth.clients import ClientType
from tests.auth.oauth.driver import REDIRECT, Browser, authorize, code_from, pkce_pair, token_request

Client = tuple[str, str | None]


def exchange(client_id: str, code: str, verifier: str | None, redirect_uri: str = REDIRECT) -> str:
    body: str = WebApplicationClient(client_id).prepare_request_body(
        code=code, redirect_uri=redirect_uri, code_verifier=verifier, include_client_id=True
    )
    return body


async def public_client() -> Client:
    record, _ = await clients.create("Phone App", ClientType.PUBLIC, [REDIRECT], frozenset({"transit"}), "phone")
    return record.client_id, None


async def a_code(browser: Browser, client: Client) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    location = await authorize(browser, client[0], "transit", allow=["transit"], code_challenge=challenge,
                               code_challenge_method="S256")  # fmt: skip
    return code_from(location), verifier


async def test_a_code_presented_without_its_verifier_is_still_usable_by_its_rightful_owner(
    browser: Browser, app_client: Client
) -> None:
    phone = await public_client()
    code, verifier = await a_code(browser, phone)
    hub = browser.hub
    # Someone who saw the code, but not the verifier: no verifier, a wrong one, a wrong redirect URI,
    # another client (with the right verifier even).
    status, error = await token_request(hub, phone[0], None, exchange(phone[0], code, None))
    assert (status, error["error"]) == (400, "invalid_request")
    status, error = await token_request(hub, phone[0], None, exchange(phone[0], code, "x" * 50))
    assert (status, error["error"]) == (400, "invalid_grant")
    status, error = await token_request(hub, phone[0], None, exchange(phone[0], code, verifier, REDIRECT + "x"))
    assert (status, error["error"]) == (400, "invalid_grant")
    status, error = await token_request(hub, app_client[0], app_client[1], exchange(app_client[0], code, verifier))
    assert (status, error["error"]) == (400, "invalid_grant")

    status, tokens = await token_request(hub, phone[0], None, exchange(phone[0], code, verifier))
    assert status == 200, tokens
    status, _ = await hub.graphql("{ me { cardNumber } }", tokens["access_token"])
    assert status == 200


async def test_a_replay_without_the_verifier_revokes_nothing(browser: Browser) -> None:
    phone = await public_client()
    code, verifier = await a_code(browser, phone)
    status, tokens = await token_request(browser.hub, phone[0], None, exchange(phone[0], code, verifier))
    assert status == 200
    status, error = await token_request(browser.hub, phone[0], None, exchange(phone[0], code, None))
    assert (status, error["error"]) == (400, "invalid_request")
    status, error = await token_request(browser.hub, phone[0], None, exchange(phone[0], code, "y" * 50))
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", tokens["access_token"])
    assert status == 200  # only the verifier's holder can make a replay count


async def test_concurrent_redemptions_give_one_token_and_revoke_it(browser: Browser) -> None:
    phone = await public_client()
    code, verifier = await a_code(browser, phone)
    answers = await asyncio.gather(
        *(token_request(browser.hub, phone[0], None, exchange(phone[0], code, verifier)) for _ in range(2))
    )
    assert sorted(status for status, _ in answers) == [200, 400]
    [issued] = [body for status, body in answers if status == 200]
    status, _ = await browser.hub.graphql("{ me { cardNumber } }", issued["access_token"])
    assert status == 401  # RFC 6749 4.1.2: a code used twice revokes what it gave
