"""The /graphql endpoint: authenticates the bearer token, then hands over to strawberry.

A token that is present but malformed, unknown, expired or revoked gets HTTP 401 with
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 section 3) and a GraphQL-shaped body;
an Authorization header that is not ``Bearer <token>`` gets 400 ``invalid_request``;
no token at all runs the query anonymously: citizen data is refused field by field with UNAUTHENTICATED.

Before any of that, the edge (docs/security.md): a body over ``max_body_bytes`` gets 413 without being
read whole; a request runs for at most ``request_budget_seconds``; a document is sent as text
(``query``) or, registered beforehand, by its ``documentId`` (GraphQL-over-HTTP, persisted documents
appendix), by POST or, for queries, GET. In production most clients may send registered documents
only (``auth.documents.FreeFormPolicy``), and only developer clients see "Did you mean" suggestions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.streaming import HTTPStreamTransport
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from auth import documents
from auth.bearer import InvalidRequest, bearer_token
from auth.documents import FreeFormPolicy
from auth.epoch import NO_FENCE, Fence
from auth.principal import Principal
from auth.tokens import InvalidToken, authenticate
from connectors.live import LiveConnectors
from hub.graphiql import page as graphiql_page
from hub.observability import requests
from hub.outage import STORE_ERRORS, store_unavailable
from hub.settings import Settings
from schema.context import HubContext, Services
from schema.documents import DocumentInvalid
from schema.errors import (
    BadRequest,
    HubError,
    PersistedDocumentNotFound,
    PersistedDocumentRequired,
    RequestTimeout,
    RequestTooLarge,
    code_request_errors,
)
from schema.extensions.disclosure import Disclosure, without_suggestions
from schema.responses import ResponseCache
from schema.schema import HubSchema, Limits

log = logging.getLogger("cardhub.http")


@dataclass(frozen=True, slots=True)
class Edge:
    """What the endpoint enforces before and around the schema (hub/settings.py has each value)."""

    max_body_bytes: int = 1 << 20
    budget_seconds: float = 15.0
    free_form: FreeFormPolicy = field(default_factory=lambda: FreeFormPolicy(trusted_only=False))
    disclosure: Disclosure = field(default_factory=Disclosure)


def limits_for(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_directives=settings.max_directives,
        max_cost=settings.max_cost,
        default_page_size=settings.default_page_size,
        report_cost=settings.is_sandbox,
        disclosure=_disclosure(settings),
    )


def edge_for(settings: Settings) -> Edge:
    return Edge(
        max_body_bytes=settings.max_body_bytes,
        budget_seconds=settings.request_budget_seconds,
        free_form=FreeFormPolicy(
            trusted_only=not settings.is_sandbox,
            free_form_clients=frozenset(settings.free_form_clients),
            developer_clients=frozenset(settings.developer_clients),
        ),
        disclosure=_disclosure(settings),
    )


def _disclosure(settings: Settings) -> Disclosure:
    return Disclosure(production=not settings.is_sandbox, developer_clients=frozenset(settings.developer_clients))


@dataclass
class HubRequestData(GraphQLRequestData):
    document_id: str | None = None


class HubGraphQL(GraphQL[HubContext, None]):
    schema: HubSchema

    def __init__(self, schema: HubSchema, services: Services, graphiql: bool, edge: Edge | None = None) -> None:
        # GET runs queries only (a mutation by GET is 405): persisted documents are sent that way.
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True)
        self.services = services
        self.edge = edge or Edge()
        self.responses = ResponseCache(services.sections)  # keeps nothing while the section cache is off

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        # RequestContext gave the id and answers it in a header; mounted without it, the id is made here.
        answered = "request_id" in scope.get("state", {})
        request_id = requests.request_id(request)  # one mechanism for every route (hub/observability/requests.py)
        body = await _bounded_body(request, receive, self.edge.max_body_bytes)
        if body is None:
            log.info("refused a body over %d bytes request_id=%s", self.edge.max_body_bytes, request_id)
            await _too_large(self.edge.max_body_bytes, request_id)(scope, receive, send)
            return
        receive = _replay(body, receive)
        try:
            token = bearer_token(request.headers.get("authorization"))
            # The revocation epoch, read once: it says whether remembered lookups still hold (auth/epoch.py).
            request.state.fence = fence = await self.services.memory.fence() if token else NO_FENCE
            request.state.principal = await authenticate(token, fence) if token else None
            if token and isinstance(self.services.connectors, LiveConnectors):
                # A connector changed on another instance is in force here before this request reads.
                await self.services.connectors.follow(fence.epoch)
        except (InvalidRequest, InvalidToken) as exc:
            log.info("refused bearer token (%s: %s) request_id=%s", exc.error, exc, request_id)
            await _unauthorized(exc.error, str(exc), request_id)(scope, receive, send)
            return
        except STORE_ERRORS as exc:  # the token cannot be checked: refuse, clearly, and keep serving
            log.error("the hub's database is unavailable (%s) request_id=%s", type(exc).__name__, request_id)
            await store_unavailable(request_id)(scope, receive, send)
            return

        async def send_with_id(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send if answered else send_with_id)  # type: ignore[arg-type]

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_page())  # the hub's own page and assets (hub/graphiql.py), no CDN

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        raw: Any = None
        if request.method == "POST" and _mime(request.content_type) == "application/json":
            raw = self.parse_json(await request.get_body())  # once (strawberry's own would parse it again)
            if not isinstance(raw, dict | list):  # strawberry would fail on it with a 500
                raise HTTPException(400, "The request body must be a JSON object")
        if not isinstance(raw, dict):  # GET, other types, a batch, not an object: strawberry's words for all
            data = await super().parse_http_body(request)
            if isinstance(data, list):  # batching is off: strawberry refused it already
                return data
            raw = request.query_params if request.method == "GET" else json.loads(await request.get_body())
        else:
            data = _request_data(raw, self._get_stream_transport_from_headers(request.headers))
        document_id = raw.get("documentId")
        if document_id is not None and not isinstance(document_id, str):
            raise HTTPException(400, "documentId must be a string")
        return HubRequestData(
            query=data.query,
            variables=data.variables,
            operation_name=data.operation_name,
            extensions=data.extensions,
            protocol=data.protocol,
            document_id=document_id,
        )

    async def execute_single(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: HubContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            async with asyncio.timeout(self.edge.budget_seconds):
                refusal = await self._document(context.principal, request_data, context.fence)
                if refusal is not None:
                    return ExecutionResult(data=None, errors=[refusal])
                key = self._response_key(context, request_data)
                if key is not None and (kept := await self.responses.serve(key, context)) is not None:
                    return kept  # token, consent and audit ran as for any request (schema/responses.py)
                result = await super().execute_single(
                    request, request_adapter, sub_response, context, root_value, request_data
                )
                if key is not None:
                    await self.responses.keep(key, context, result)
                return result
        except TimeoutError:
            log.warning("request over its budget of %gs request_id=%s", self.edge.budget_seconds, context.request_id)
            return ExecutionResult(
                data=None,
                errors=[RequestTimeout(f"the request ran over {self.edge.budget_seconds:g}s and was stopped")],
            )
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and request_adapter.method == "GET":
                # GraphQL-over-HTTP: a mutation by GET is 405 Method Not Allowed.
                raise HTTPException(405, "mutations are sent by POST") from exc
            raise

    def _response_key(self, context: HubContext, data: GraphQLRequestData) -> Hashable | None:
        """Registered documents only: their answers may be kept whole (schema/responses.py)."""
        if not isinstance(data, HubRequestData) or data.document_id is None or data.query is None:
            return None
        document = self.schema.documents.parsed(data.query)
        return self.responses.key(context, document, data.query, data.operation_name, data.variables)

    async def _document(
        self, principal: Principal | None, data: GraphQLRequestData, fence: Fence = NO_FENCE
    ) -> HubError | None:
        """Put the registered document in place of ``documentId``, or say why the request may not run."""
        document_id = data.document_id if isinstance(data, HubRequestData) else None
        if document_id is None:
            if await self.edge.free_form.allows(principal):
                return None
            return PersistedDocumentRequired(
                "this client may run registered documents only: send documentId (docs/for-app-developers.md)"
            )
        if data.query is not None:
            return BadRequest("send either query or documentId, not both")
        text = await documents.find(document_id, principal.client_id if principal else None, fence)
        if text is None:
            return PersistedDocumentNotFound("no registered document with that documentId", documentId=document_id)
        # Parsed and validated once per process. If the schema changed under it, it runs as text and
        # the client sees the validation errors.
        with contextlib.suppress(DocumentInvalid):
            self.schema.documents.prepare(text)
        data.query = text
        return None

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            code_request_errors(result.errors)
        response = await super().process_result(request, result)
        if not self.edge.disclosure.reveals(request.state.principal):
            errors: list[dict[str, Any]] = response.get("errors") or []  # type: ignore[assignment]
            for error in errors:
                error["message"] = without_suggestions(error["message"])
        return response

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> HubContext:
        principal: Principal | None = request.state.principal
        return HubContext(
            services=self.services,
            principal=principal,
            request_id=request.state.request_id,
            fence=getattr(request.state, "fence", NO_FENCE),
        )


async def _bounded_body(request: Request, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be over ``limit`` (never read past it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: what came is all there is
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect, when it comes)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _too_large(limit: int, request_id: str) -> JSONResponse:
    error = RequestTooLarge(f"the request body is over {limit} bytes", max=limit)
    return JSONResponse(
        {"data": None, "errors": [{"message": error.message, "extensions": error.extensions}]},
        status_code=413,
        headers={"X-Request-Id": request_id, "Connection": "close"},
    )


def _unauthorized(error: str, description: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": description, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401 if error == "invalid_token" else 400,
        headers={
            "WWW-Authenticate": f'Bearer realm="cardhub", error="{error}", error_description="{description}"',
            "X-Request-Id": request_id,
        },
    )


def _mime(content_type: str | None) -> str:
    """The media type alone, lower case (strawberry parses the header with ``email.message``, slowly)."""
    return (content_type or "").partition(";")[0].strip().lower()


_FIELDS = (("query", str, "a string"), ("variables", dict, "an object"), ("extensions", dict, "an object"))


def _request_data(raw: dict[str, Any], transport: HTTPStreamTransport | None) -> GraphQLRequestData:
    """A JSON request object checked as strawberry's ``parse_http_body`` checks it, with its messages."""
    for name, kind, text in (
        ("query", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        if not isinstance(raw.get(name), kind | None):
            raise HTTPException(400, f"The GraphQL operation's `{name}` must be {text} or null, if provided.")
    return GraphQLRequestData(
        query=raw.get("query"),
        variables=raw.get("variables"),
        operation_name=raw.get("operationName"),
        extensions=raw.get("extensions"),
        protocol=transport.protocol if transport else "http",
    )
