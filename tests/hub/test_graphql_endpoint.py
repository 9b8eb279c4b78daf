"""Identity at the door: tokens, who may read whom, and errors without tracebacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auth.tokens import AccessToken, hash_token
from connectors.domain import AGENCY_IDS
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub, agency_stats, reset_agency_stats

ALICE = PERSONAS[0].card_number
BOB = PERSONAS[1].card_number
PROFILE = "{ me { cardNumber transit { balance } library { fines } } }"


def reset_all(hub: RunningHub) -> None:
    for agency in AGENCY_IDS:
        reset_agency_stats(hub.sandbox, agency)


def agency_calls(hub: RunningHub) -> int:
    return sum(agency_stats(hub.sandbox, a)["count"] for a in AGENCY_IDS)


async def test_no_token_returns_no_citizen_data_and_calls_no_agency(hub: RunningHub) -> None:
    reset_all(hub)
    status, body = await hub.graphql(PROFILE)
    assert status == 200
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert agency_calls(hub) == 0


async def test_introspection_works_without_a_token(hub: RunningHub) -> None:
    _, body = await hub.graphql('{ __type(name: "Citizen") { fields { name } } }')
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert {"cardNumber", "socialSecurity", "transit", "health", "housingFund", "library"} <= names


async def test_unknown_malformed_and_non_bearer_tokens_get_401(hub: RunningHub) -> None:
    for header, error in [
        ("Bearer chb_doesnotexist", "invalid_token"),
        ("Bearer not-a-hub-token", "invalid_token"),
        ("Bearer " + "chb_" + "x" * 5000, "invalid_token"),
    ]:
        async with hub.http.post(
            hub.url + "/graphql", json={"query": PROFILE}, headers={"Authorization": header}
        ) as resp:
            body = await resp.json()
            assert resp.status == 401
            assert f'error="{error}"' in resp.headers["WWW-Authenticate"]
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert body["data"] is None
    async with hub.http.post(
        hub.url + "/graphql", json={"query": PROFILE}, headers={"Authorization": "Basic dXNlcjpwYXNz"}
    ) as resp:
        assert resp.status == 400
        assert 'error="invalid_request"' in resp.headers["WWW-Authenticate"]


async def test_expired_and_revoked_tokens_are_refused(hub: RunningHub) -> None:
    expired = await hub.token(ALICE)
    await AccessToken.filter(token_hash=hash_token(expired)).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = await hub.token(ALICE)
    await AccessToken.filter(token_hash=hash_token(revoked)).update(revoked_at=datetime.now(UTC))
    for token, reason in [(expired, "expired"), (revoked, "revoked")]:
        status, body = await hub.graphql(PROFILE, token)
        assert status == 401
        assert reason in body["errors"][0]["message"]


async def test_citizen_token_reads_only_its_citizen(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    _, body = await hub.graphql(PROFILE, token)
    assert body["data"]["me"]["cardNumber"] == ALICE

    reset_all(hub)
    _, body = await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { cardNumber transit { balance } } }", token, {"n": BOB}
    )
    assert body["data"] == {"citizen": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert agency_calls(hub) == 0


async def test_client_token_reads_citizen_by_card_number_but_not_me(hub: RunningHub) -> None:
    await hub.consent(BOB, ["card", "transit"])
    token = await hub.token(None)
    _, body = await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { cardNumber name transit { meta { source } } } }",
        token,
        {"n": BOB},
    )
    assert "errors" not in body
    assert body["data"]["citizen"]["cardNumber"] == BOB
    assert body["data"]["citizen"]["transit"]["meta"]["source"] == "transit"

    _, body = await hub.graphql("{ me { cardNumber } }", token)
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_section_outside_the_tokens_scopes_is_refused_before_any_agency_call(hub: RunningHub) -> None:
    token = await hub.token(ALICE, scopes=["transit"])
    reset_all(hub)
    _, body = await hub.graphql("{ me { transit { balance } health { healthCardNumber } name } }", token)
    assert body["data"]["me"]["transit"]["balance"] is not None
    assert body["data"]["me"]["health"] is None
    assert body["data"]["me"]["name"] is None
    refused = {e["path"][-1]: e["extensions"] for e in body["errors"]}
    assert refused["health"] == {"code": "CONSENT_REQUIRED", "scope": "health"}
    assert refused["name"] == {"code": "CONSENT_REQUIRED", "scope": "card"}
    assert agency_stats(hub.sandbox, "health")["count"] == 0


async def test_malformed_query_gets_a_coded_error_and_the_hub_keeps_serving(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    status, body = await hub.graphql("{ me { cardNumber ", token)
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    status, body = await hub.graphql("{ me { noSuchField } }", token)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "noSuchField" in body["errors"][0]["message"]
    async with hub.http.post(
        hub.url + "/graphql", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert "Traceback" not in await r.text()
    _, body = await hub.graphql("{ me { cardNumber } }", token)
    assert body["data"]["me"]["cardNumber"] == ALICE


async def test_alias_heavy_queries_are_refused(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    aliases = " ".join(f"a{i}: cardNumber" for i in range(hub.settings.max_aliases + 1))
    _, body = await hub.graphql(f"{{ me {{ {aliases} }} }}", token)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in body["errors"][0]["message"]


async def test_request_id_is_echoed_or_made(hub: RunningHub) -> None:
    async with hub.http.post(
        hub.url + "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "trace-123"}
    ) as resp:
        assert resp.headers["X-Request-Id"] == "trace-123"
    async with hub.http.post(
        hub.url + "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "bad id\twith tab"}
    ) as resp:
        assert resp.headers["X-Request-Id"] != "bad id\twith tab"
        assert len(resp.headers["X-Request-Id"]) == 32
