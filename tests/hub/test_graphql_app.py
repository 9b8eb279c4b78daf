"""The GraphQL endpoint's edge: body and token limits, the request budget, persisted documents, and
what production reveals (introspection, suggestions) to whom."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any
from urllib.parse import urlencode

from auth import documents, tokens
from auth.audit import AuditEntry
from auth.clients import ClientType
from hub import sandbox_access
from hub.graphql_app import HubGraphQL, edge_for, limits_for
from hub.settings import Settings
from sandbox.personas import PERSONAS
from schema.schema import build_schema
from tests.conftest import RunningHub

ALICE = PERSONAS[0].card_number
DEVELOPER = "test-developer-tool"
PUBLIC_APP = "test-public-app"
AGENCY_CLIENT = "test-edge-agency"  # listed in free_form_clients
CONFIDENTIAL_APP = "test-confidential-app"  # not listed in free_form_clients
INTROSPECT = '{ __type(name: "Citizen") { fields { name } } }'
TYPO = "{ mee { cardNumber } }"  # "Did you mean 'me'?"
BALANCE = "query Balance { me { transit { balance } } }"


async def asgi(
    app: HubGraphQL, method: str, body: dict[str, Any] | None = None, token: str | None = None, query: str = ""
) -> tuple[int, dict[str, Any]]:
    """One request straight into the ASGI app, as a server on loopback would hand it over."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": "/graphql", "raw_path": b"/graphql", "query_string": query.encode(), "headers": headers,
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    messages: list[MutableMapping[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = messages[0]["status"]
    payload = b"".join(m.get("body", b"") for m in messages[1:])
    try:
        return status, json.loads(payload)
    except json.JSONDecodeError:
        return status, {"text": payload.decode()}


def production_view(hub: RunningHub, **overrides: Any) -> HubGraphQL:
    settings = Settings(
        mode="production",
        issuer="https://hub.example",
        developer_clients=(DEVELOPER,),
        free_form_clients=(AGENCY_CLIENT, PUBLIC_APP),  # a public client listed here is not honoured
        **overrides,
    )
    services = hub.app.state.graphql.services
    return HubGraphQL(build_schema(edge=limits_for(settings)), services, graphiql=False, edge=edge_for(settings))


async def client_token(client_id: str, client_type: ClientType) -> str:
    await sandbox_access.ensure_client(client_id, client_type, "Tests: the GraphQL edge")
    return await tokens.issue(client_id, frozenset({"card"}), None, 600)


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


# --- production: introspection, suggestions, free-form documents ----------------------------------


async def test_production_refuses_introspection_and_suggestions_except_to_developer_clients(hub: RunningHub) -> None:
    view = production_view(hub)
    agency = await client_token(AGENCY_CLIENT, ClientType.AGENCY)  # may send free-form, is no developer
    developer = await client_token(DEVELOPER, ClientType.CONFIDENTIAL)

    status, body = await asgi(view, "POST", {"query": INTROSPECT}, agency)
    assert status == 200
    assert body["data"] is None
    assert code(body) == "INTROSPECTION_DISABLED"
    _, body = await asgi(view, "POST", {"query": "{ __schema { queryType { name } } }"}, agency)
    assert code(body) == "INTROSPECTION_DISABLED"
    _, body = await asgi(view, "POST", {"query": TYPO}, agency)
    assert code(body) == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in body["errors"][0]["message"]

    _, body = await asgi(view, "POST", {"query": INTROSPECT}, developer)
    assert "socialSecurity" in {f["name"] for f in body["data"]["__type"]["fields"]}
    _, body = await asgi(view, "POST", {"query": TYPO}, developer)
    assert "Did you mean 'me'?" in body["errors"][0]["message"]


async def test_production_runs_registered_documents_only_for_public_and_anonymous_callers(hub: RunningHub) -> None:
    view = production_view(hub)
    public = await client_token(PUBLIC_APP, ClientType.PUBLIC)
    confidential = await client_token(CONFIDENTIAL_APP, ClientType.CONFIDENTIAL)
    for token in (None, public, confidential):
        status, body = await asgi(view, "POST", {"query": "{ __typename }"}, token)
        assert status == 200
        assert body["data"] is None
        assert code(body) == "PERSISTED_DOCUMENT_REQUIRED"
    agency = await client_token(AGENCY_CLIENT, ClientType.AGENCY)
    _, body = await asgi(view, "POST", {"query": "{ __typename }"}, agency)
    assert body == {"data": {"__typename": "Query"}}


async def test_a_registered_document_runs_by_id_over_post_and_get_parsed_once(hub: RunningHub) -> None:
    view = production_view(hub)
    token = await hub.token(ALICE)  # the sandbox console: a public client
    text = "query Card { me { cardNumber name } }"
    doc, _ = await documents.register(tokens.SANDBOX_CONSOLE_CLIENT, text, "Card")
    assert doc.document_id == documents.document_id(text)

    status, body = await asgi(view, "POST", {"documentId": doc.document_id}, token)
    assert status == 200, body
    assert body["data"]["me"]["cardNumber"] == ALICE
    prepared = view.schema.documents.parsed(text)
    assert prepared is not None
    _, body = await asgi(view, "GET", None, token, urlencode({"documentId": doc.document_id}))
    assert body["data"]["me"]["cardNumber"] == ALICE
    assert view.schema.documents.parsed(text) is prepared  # the same DocumentNode: not parsed again

    # Another client's registration is not this client's.
    other = await client_token(CONFIDENTIAL_APP, ClientType.CONFIDENTIAL)
    _, body = await asgi(view, "POST", {"documentId": doc.document_id}, other)
    assert code(body) == "PERSISTED_DOCUMENT_NOT_FOUND"

    assert await documents.revoke(tokens.SANDBOX_CONSOLE_CLIENT, doc.document_id)
    _, body = await asgi(view, "POST", {"documentId": doc.document_id}, token)
    assert body["data"] is None
    assert code(body) == "PERSISTED_DOCUMENT_NOT_FOUND"


async def test_unknown_ids_mixed_requests_and_mutations_by_get(hub: RunningHub) -> None:
    view = production_view(hub)
    token = await hub.token(ALICE)
    unknown = documents.document_id("{ nothing }")
    status, body = await asgi(view, "POST", {"documentId": unknown}, token)
    assert status == 200
    assert body["data"] is None and len(body["errors"]) == 1
    assert code(body) == "PERSISTED_DOCUMENT_NOT_FOUND"
    _, body = await asgi(view, "POST", {"documentId": "md5:abc"}, token)
    assert code(body) == "PERSISTED_DOCUMENT_NOT_FOUND"

    text = 'mutation Drop { revokeConsent(consentId: "1") { id } }'
    doc, _ = await documents.register(tokens.SANDBOX_CONSOLE_CLIENT, text, "Drop")
    _, body = await asgi(view, "POST", {"documentId": doc.document_id, "query": text}, token)
    assert code(body) == "BAD_REQUEST"
    status, _ = await asgi(view, "GET", None, token, urlencode({"documentId": doc.document_id}))
    assert status == 405  # GraphQL-over-HTTP: a mutation by GET


# --- limits ---------------------------------------------------------------------------------------


async def test_a_4_mib_body_is_refused_with_413_declared_or_streamed(hub: RunningHub) -> None:
    big = json.dumps({"query": "{ __typename }", "padding": "x" * (4 << 20)}).encode()
    declared = {"Content-Type": "application/json"}
    async with hub.http.post(hub.url + "/graphql", data=io.BytesIO(big), headers=declared) as resp:
        assert resp.status == 413
        body = await resp.json()
    assert body["data"] is None
    assert code(body) == "REQUEST_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(big), 1 << 16):
            yield big[start : start + (1 << 16)]

    async with hub.http.post(hub.url + "/graphql", data=chunks(), headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
        assert code(await resp.json()) == "REQUEST_TOO_LARGE"


async def test_a_token_heavy_document_is_refused_in_bounded_time(hub: RunningHub) -> None:
    heavy = "{ " + "__typename " * 90_000 + "}"  # about 1 MB, just under the body limit
    started = time.monotonic()
    status, body = await hub.graphql(heavy)
    elapsed = time.monotonic() - started
    assert status == 200
    assert code(body) == "TOO_MANY_TOKENS"
    assert elapsed < 1.0, elapsed
    _, body = await hub.graphql("{ __typename }")  # and the hub still answers
    assert body["data"] == {"__typename": "Query"}


async def test_a_request_over_its_budget_is_stopped_and_leaves_no_audit_entry(
    hub: RunningHub, clear_faults: Callable[..., None]
) -> None:
    view = production_view(hub, request_budget_seconds=0.3)
    token = await hub.token(ALICE)
    doc, _ = await documents.register(tokens.SANDBOX_CONSOLE_CLIENT, BALANCE, "Balance")
    clear_faults("transit", latency_ms=900)
    before = await AuditEntry.all().count()
    started = time.monotonic()
    status, body = await asgi(view, "POST", {"documentId": doc.document_id}, token)
    assert time.monotonic() - started < 0.8
    assert status == 200
    assert body["data"] is None
    assert code(body) == "REQUEST_TIMEOUT"
    assert "Traceback" not in json.dumps(body)
    await asyncio.sleep(0.1)
    assert await AuditEntry.all().count() == before  # nothing written half-way


async def test_sandbox_reports_the_cost_and_refuses_an_expensive_query(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    _, body = await hub.graphql("{ me { transit { trips(first: 3) { nodes { line } } } } }", token)
    assert body["extensions"]["cost"] == 1 + 1 + 3 + 3 + 3
    view = production_view(hub, max_cost=50)
    agency = await client_token(AGENCY_CLIENT, ClientType.AGENCY)
    query = '{ citizen(cardNumber: "x") { transit { trips(first: 100) { nodes { line } } } } }'
    _, body = await asgi(view, "POST", {"query": query}, agency)
    assert code(body) == "COST_LIMIT_EXCEEDED"
    assert body["errors"][0]["extensions"]["cost"] == 302
    assert "extensions" not in body or "cost" not in body["extensions"]  # reported in sandbox mode only


async def test_malformed_request_bodies_get_400_with_what_is_wrong(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    me = '{"query": "{ me { cardNumber } }"}'
    cases = [
        ("application/json", '{"query": 5}', "`query` must be a string"),
        ("application/json", '{"query": "{ me { cardNumber } }", "variables": []}', "`variables` must be an object"),
        ("application/json", '{"query": "{ me { cardNumber } }", "extensions": "x"}', "`extensions` must be an object"),
        ("application/json", "{not json", "Unable to parse request body as JSON"),
        ("application/json", '"just a string"', "must be a JSON object"),
        ("application/json", "42", "must be a JSON object"),
        ("application/json", '{"documentId": 5}', "documentId must be a string"),
        ("application/json", f"[{me}]", "atching is not enabled"),
        ("text/plain", me, "Unsupported content type"),
    ]
    for content_type, body, expected in cases:
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
        async with hub.http.post(hub.url + "/graphql", data=body, headers=headers) as resp:
            text = await resp.text()
            assert (resp.status, expected in text) == (400, True), (body, resp.status, text)
            assert "Traceback" not in text
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
        async with hub.http.post(hub.url + "/graphql", data=me, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"]["me"]["cardNumber"] == ALICE
