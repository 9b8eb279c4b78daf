"""The authorization server's HTTP endpoints on Starlette.

``/oauth/authorize`` (RFC 6749 section 4.1.1, with the login and consent pages),
``/oauth/token`` (section 4.1.3, 6 and 4.4), ``/oauth/revoke`` (RFC 7009), ``/oauth/introspect``
(RFC 7662) and ``/.well-known/oauth-authorization-server`` (RFC 8414).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, InsecureTransportError, InvalidScopeError
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from auth import consent
from auth.consent import ConsentStatus
from auth.epoch import Memory
from auth.group_commit import GroupCommit
from auth.oauth import client_credentials
from auth.oauth.introspection import IntrospectionEndpoint
from auth.oauth.metadata import metadata
from auth.oauth.revocation import RevocationEndpoint
from auth.oauth.server import FormRequest, HubAuthorizationServer, Lifetimes, OAuthResponse
from auth.scopes import READ_SCOPES
from auth.tokens import AccessToken
from auth.web import csrf, pages, session
from auth.web.errors import WebError
from telemetry import metrics

log = logging.getLogger("cardhub.oauth")

OAUTH_FIELDS = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
MAX_FORM_FIELDS = 50


class OAuthEndpoints:
    def __init__(self, issuer: str, lifetimes: Lifetimes, memory: Memory | None = None) -> None:
        """``memory``: the process's remembered lookups (auth/epoch.py), shared with /graphql; without
        it, every token request reads the database."""
        self.issuer = issuer
        self.memory = memory or Memory(store=None)
        self.token_writes = GroupCommit(AccessToken)  # client-credentials tokens, group-committed
        self.server = HubAuthorizationServer(issuer, lifetimes)
        self.server.register_endpoint(RevocationEndpoint(self.server))
        self.server.register_endpoint(IntrospectionEndpoint(self.server, issuer))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/introspect", self.introspect, methods=["POST"]),
            Route("/.well-known/oauth-authorization-server", self.metadata, methods=["GET"]),
        ]

    async def metadata(self, request: Request) -> Response:
        return JSONResponse(metadata(self.issuer))

    async def token(self, request: Request) -> Response:
        response = await self._run(request, self.server.create_token_response, first=self._client_credentials)
        form = await _form(request)  # read already: Starlette keeps the parsed form
        metrics.token_request(str(form.get("grant_type", "")) if form else "", _outcome(response))
        return response

    async def revoke(self, request: Request) -> Response:
        return await self._run(request, lambda r: self.server.create_endpoint_response("revocation", r))

    async def introspect(self, request: Request) -> Response:
        return await self._run(request, lambda r: self.server.create_endpoint_response("introspection", r))

    async def _client_credentials(self, oauth_request: FormRequest) -> OAuthResponse | None:
        fence = await self.memory.fence()
        lifetime = self.server.lifetimes.access_token
        supported = self.server.scopes_supported
        return await client_credentials.issue(oauth_request, fence, lifetime, supported, self.token_writes)

    async def _run(
        self, request: Request, call: Any, first: Callable[[FormRequest], Awaitable[OAuthResponse | None]] | None = None
    ) -> Response:
        """Authlib's ``call`` in a worker thread, unless ``first`` answers on the loop."""
        form = await _form(request)
        if form is None:
            return _oauth_error(400, "invalid_request", "send application/x-www-form-urlencoded")
        fields = _lists(form)
        if repeated := sorted(k for k, v in fields.items() if len(v) > 1):  # RFC 6749 3.2: at most once each
            return _oauth_error(400, "invalid_request", f"repeated parameter: {repeated[0][:40]}")
        try:
            oauth_request = FormRequest(request.method, str(request.url), request.headers, fields)
        except InsecureTransportError:
            return _oauth_error(400, "invalid_request", "use https")
        answer = await first(oauth_request) if first is not None else None
        if answer is None:
            answer = await to_thread.run_sync(call, oauth_request)
        assert answer is not None
        return _to_response(answer)

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            fields = _lists(request.query_params)
            requested = request.query_params.get("scope", "")
            chosen: set[str] | None = None
            denied = False
        else:
            form = await _form(request)
            if form is None:
                raise WebError(400, "error_bad_authorization_request", detail="not a form post")
            csrf.check_csrf(request, form)
            fields = {k: v for k, v in _lists(form).items() if k in OAUTH_FIELDS}
            requested = str(form.get("requested_scope", ""))
            chosen = set(map(str, form.getlist("scope")))
            denied = form.get("decision") != "allow"
        fields = {k: v for k, v in fields.items() if k in OAUTH_FIELDS}
        fields["scope"] = [requested]
        try:
            oauth_request = FormRequest("GET", str(request.url), request.headers, fields)
        except InsecureTransportError:
            raise WebError(400, "error_bad_authorization_request", detail="use https") from None
        try:
            grant = await to_thread.run_sync(self.server.get_consent_grant, oauth_request)
        except OAuth2Error as error:
            return await self._refuse(request, oauth_request, error)
        client = grant.client.record
        wanted = frozenset(requested.split())
        back = {"state": oauth_request.payload.state, "redirect_uri": grant.redirect_uri}  # validated above
        # Client-operation scopes (connectors:manage) are the client's own, never a citizen's to grant.
        if not wanted or wanted - client.scopes or wanted - READ_SCOPES:
            return await self._refuse(request, oauth_request, InvalidScopeError(**back))

        citizen = session.current_citizen(request)
        if citizen is None:
            if request.method == "POST":
                raise WebError(403, "error_login_required")
            return RedirectResponse(f"/login?next={quote(request.url.path + '?' + request.url.query)}", 303)

        standing = await consent.standing(citizen, client.client_id)
        already = standing.scopes & wanted if standing.status is ConsentStatus.ACTIVE else frozenset()
        if chosen is None:
            if already == wanted:  # all of it consented before: no need to ask again
                return await self._issue(oauth_request, grant, citizen, wanted)
            hidden = {k: v[0] for k, v in fields.items() if k != "scope"} | {"requested_scope": requested}
            return pages.render_consent(
                request, client=client, requested=wanted, already=already, hidden=hidden, action="/oauth/authorize"
            )

        granted = (frozenset(chosen) & wanted) | already
        if denied or not granted:  # "deny" means deny, whatever was consented before
            return await self._refuse(request, oauth_request, AccessDeniedError(**back))
        if granted - already:
            await consent.grant(citizen, client.client_id, granted - already, client.purpose)
        return await self._issue(oauth_request, grant, citizen, granted)

    async def _issue(self, oauth_request: FormRequest, grant: Any, citizen: str, scopes: frozenset[str]) -> Response:
        # The code carries what the citizen allowed, which may be less than the client asked for.
        scope = " ".join(sorted(scopes))
        oauth_request.payload.data["scope"] = scope
        oauth_request.form["scope"] = scope
        answer: OAuthResponse = await to_thread.run_sync(
            lambda: self.server.create_authorization_response(oauth_request, citizen, grant)
        )
        return _to_response(answer)

    async def _refuse(self, request: Request, oauth_request: FormRequest, error: OAuth2Error) -> Response:
        if getattr(error, "redirect_uri", None) is None:
            # The client or its redirect URI is not what it claims: never redirect there (RFC 6749 4.1.2.1).
            log.info("authorization refused without redirect: %s", error.error)
            raise WebError(400, "error_bad_authorization_request", detail=str(error.get_error_description() or ""))
        answer = await to_thread.run_sync(self.server.handle_error_response, oauth_request, error)
        self.server.execute_hook("after_create_authorization_response", answer)
        return _to_response(answer)


async def _form(request: Request) -> FormData | None:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


def _lists(values: FormData | QueryParams) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for key, value in values.multi_items():
        result.setdefault(key, []).append(str(value))
    return result


def _to_response(answer: OAuthResponse) -> Response:
    headers = {k: v for k, v in answer.headers if k.lower() != "content-type"}
    if answer.location:
        return Response(status_code=302, headers=headers)
    body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
    return Response(body, status_code=answer.status, headers=headers, media_type="application/json")


def _outcome(response: Response) -> str:
    """ "issued", or the error code of the answer (RFC 6749 section 5.2)."""
    if response.status_code == 200:
        return "issued"
    try:
        return str(json.loads(bytes(response.body)).get("error", "error"))
    except (ValueError, AttributeError):
        return "error"


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
