"""The /graphql endpoint: authenticates the bearer token, then hands over to strawberry.

A token that is present but malformed, unknown, expired or revoked gets HTTP 401 with
``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750 section 3) and a GraphQL-shaped body;
an Authorization header that is not ``Bearer <token>`` gets 400 ``invalid_request``;
no token at all runs the query anonymously, so introspection works and citizen data is refused
field by field with UNAUTHENTICATED.
"""

from __future__ import annotations

import logging
import re
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from auth.bearer import InvalidRequest, bearer_token
from auth.principal import Principal
from auth.tokens import InvalidToken, authenticate
from hub.outage import STORE_ERRORS, store_unavailable
from schema.context import HubContext, Services
from schema.errors import code_request_errors
from schema.schema import HubSchema

log = logging.getLogger("cardhub.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class HubGraphQL(GraphQL[HubContext, None]):
    def __init__(self, schema: HubSchema, services: Services, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=False)
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        supplied = request.headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        request.state.request_id = request_id
        try:
            token = bearer_token(request.headers.get("authorization"))
            request.state.principal = await authenticate(token) if token else None
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

        await super().__call__(scope, receive, send_with_id)  # type: ignore[arg-type]

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            code_request_errors(result.errors)
        return await super().process_result(request, result)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> HubContext:
        principal: Principal | None = request.state.principal
        return HubContext(services=self.services, principal=principal, request_id=request.state.request_id)


def _unauthorized(error: str, description: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": description, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401 if error == "invalid_token" else 400,
        headers={
            "WWW-Authenticate": f'Bearer realm="cardhub", error="{error}", error_description="{description}"',
            "X-Request-Id": request_id,
        },
    )
