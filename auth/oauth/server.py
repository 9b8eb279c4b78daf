"""Authlib's authorization server on Starlette, over the hub's async storage.

Authlib ships server integrations for Flask and Django only; this is the thin Starlette adapter.
Authlib's server code is synchronous: endpoints run it in a worker thread (``anyio.to_thread``)
and every storage call hops back to the event loop (``anyio.from_thread.run``), so the loop never
blocks on it and the ORM stays on the loop it belongs to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.from_thread
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749 import grants as rfc6749_grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9207 import IssuerParameter
from tortoise.transactions import in_transaction

from auth import clients, consent, tokens
from auth.clients import Client, ClientType
from auth.oauth import authorization_code, grants
from auth.scopes import CLIENT_SCOPES, READ_SCOPES

log = logging.getLogger("cardhub.oauth")
T = TypeVar("T")

PUBLIC_METHODS = ("none",)
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def on_loop(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run storage on the event loop from Authlib's worker thread."""
    return anyio.from_thread.run(fn, *args)


@dataclass
class OAuthResponse:
    """What Authlib answered, before it becomes a Starlette response (RFC 9207 edits ``location``)."""

    status: int
    body: Any
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "location"] + [("Location", value)]


@dataclass(frozen=True)
class Lifetimes:
    access_token: int = 600  # 10 minutes
    refresh_token: int = 30 * 24 * 3600
    refresh_grace: float = 10.0  # a duplicate refresh this soon after a rotation gets the same pair


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request built from what the async endpoint already read (query string and form)."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: dict[str, list[str]]) -> None:
        super().__init__(method, uri, headers=headers)
        single = {k: v[0] for k, v in data.items() if v}
        self.payload = BasicOAuth2Payload(single)
        self.payload._datalist = data  # Authlib refuses repeated parameters by looking here
        self._form = single

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return self._form


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered client as Authlib sees it."""

    def __init__(self, record: Client) -> None:
        self.record = record

    @property
    def client_id(self) -> str:
        return self.record.client_id

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.record.redirect_uris
        return uris[0] if len(uris) == 1 else None  # with several, the client must say which

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in self.record.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris  # exact match, RFC 9700 section 4.1.3

    def check_client_secret(self, client_secret: str) -> bool:
        return self.record.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.type is ClientType.PUBLIC:
            # A public client cannot authenticate; it may redeem codes (with PKCE) and revoke its tokens.
            return method in PUBLIC_METHODS and endpoint in ("token", "revocation")
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        # Agencies too: a citizen consents to an agency on the same consent page (the agency sends them
        # through /oauth/authorize once, with a registered redirect URI); the agency's client
        # credentials tokens then read what was consented.
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return self.record.type is ClientType.AGENCY
        return grant_type in ("authorization_code", "refresh_token")


class AuthorizationCodeGrant(rfc6749_grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: FormRequest) -> None:
        data = request.payload.data
        on_loop(
            authorization_code.store,
            code,
            request.client.get_client_id(),
            request.user,
            data.get("redirect_uri", ""),  # omitted: the client's only URI, and omitted again at the token endpoint
            data.get("scope", ""),
            data["code_challenge"],
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> Any:
        return on_loop(authorization_code.find, code, client.get_client_id())

    def validate_token_request(self) -> None:
        # Authlib checks the client, the code's client and redirect URI, then (its hook) the verifier.
        super().validate_token_request()
        record = self.request.authorization_code
        if record.used_at is not None:
            on_loop(authorization_code.replayed, record.id)
            raise InvalidGrantError("Invalid 'code' in request.")

    def delete_authorization_code(self, authorization_code: Any) -> None:
        """Nothing to do: ``save_token`` claimed the code, in the transaction that stored the tokens."""

    def authenticate_user(self, authorization_code: Any) -> str:
        citizen: str = authorization_code.citizen
        return citizen


class StoredRefreshToken:
    """A refresh token as Authlib sees it, with its scope cut to what consent still allows.

    ``replay``: the pair its rotation issued, when it comes back within the grace interval.
    """

    def __init__(self, record: grants.RefreshToken, scope: str, raw: str, replay: dict[str, Any] | None = None) -> None:
        self.record = record
        self.scope = scope
        self.raw = raw
        self.replay = replay

    def check_client(self, client: OAuthClient) -> bool:
        return self.record.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope


async def find_refresh_token(raw: str, client_id: str, grace_seconds: float) -> StoredRefreshToken | None:
    """The refresh token, if this client may use it now. Claims nothing: ``grants.rotate`` does."""
    record = await grants.find_refresh_token(raw)
    if record is None or record.client_id != client_id:
        return None  # another client's token is refused and left as it was
    grant = await grants.grant_of(record)
    if record.revoked_at is not None or grant.revoked_at is not None:
        return None
    if record.used_at is not None:
        pair = grants.replay(record, raw, grace_seconds, now())
        if pair is None:  # presented after its rotation, past the grace interval: a copy is out there
            await grants.revoke(record.grant_id, "refresh token reused")
            return None
        return StoredRefreshToken(record, str(pair.get("scope", "")), raw, replay=pair)
    if record.expires_at <= now():
        return None
    standing = await consent.standing(record.citizen, record.client_id)
    allowed = [s for s in record.scope.split() if standing.holds(s)]  # a paused consent keeps its tokens
    # A consent given afresh after a withdrawal or expiry is a new consent: grants made under the old
    # one ended with it (a withdrawal revokes them at once; an expiry is caught here).
    renewed = standing.granted_at is not None and standing.granted_at > grant.created_at
    if not allowed or renewed:
        await grants.revoke(record.grant_id, "consent withdrawn")
        return None
    return StoredRefreshToken(record, " ".join(allowed), raw)


class RefreshTokenGrant(rfc6749_grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def authenticate_refresh_token(self, refresh_token: str) -> StoredRefreshToken | None:
        # Authlib has authenticated the client by now; a token of another client is refused untouched.
        client_id = self.request.client.get_client_id()
        return on_loop(find_refresh_token, refresh_token, client_id, self.server.lifetimes.refresh_grace)

    def authenticate_user(self, refresh_token: StoredRefreshToken) -> str:
        return refresh_token.record.citizen

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        stored: StoredRefreshToken = self.request.refresh_token
        self.request.user = stored.record.citizen
        pair = stored.replay
        if pair is None:
            lifetimes = self.server.lifetimes
            pair = on_loop(grants.rotate, stored.record, stored.raw, self.issue_token(stored.record.citizen, stored),
                           (lifetimes.access_token, lifetimes.refresh_token), lifetimes.refresh_grace)  # fmt: skip
        if pair is None:
            raise InvalidGrantError()
        return 200, pair, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(rfc6749_grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        super().validate_token_request()
        registered = self.request.client.record.scopes
        wanted = set((self.request.payload.scope or "").split())
        if wanted - registered:
            raise InvalidScopeError(f"not registered for this client: {' '.join(sorted(wanted - registered))}")
        if not wanted:  # RFC 6749 3.3: a default scope, here everything it was registered for
            self.request.payload.data["scope"] = " ".join(sorted(registered))


class HubIssuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, issuer: str, lifetimes: Lifetimes) -> None:
        super().__init__(scopes_supported=[*sorted(READ_SCOPES), *CLIENT_SCOPES])
        self.issuer = issuer
        self.lifetimes = lifetimes
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [authorization_code.S256Only(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_extension(HubIssuer(issuer))

    def query_client(self, client_id: str) -> OAuthClient | None:
        # A disabled or deleted client is no client: refused at every endpoint, it gets no new token.
        record = on_loop(clients.find_active, client_id) if client_id else None
        return OAuthClient(record) if record is not None else None

    def _generate_token(self, grant_type: str, client: OAuthClient, user: str | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:  # fmt: skip
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": tokens.new_token(),
            "expires_in": expires_in or self.lifetimes.access_token,
            "scope": scope or "",
        }
        if include_refresh_token and user is not None and grant_type != "client_credentials":
            token["refresh_token"] = grants.new_refresh_token()
        return token

    def save_token(self, token: dict[str, Any], request: FormRequest) -> None:
        on_loop(self._save_token, token, request)

    async def _save_token(self, token: dict[str, Any], request: FormRequest) -> None:
        client_id = request.client.get_client_id()
        grant_type = request.payload.grant_type
        citizen: str | None = request.user if grant_type != "client_credentials" else None
        scope = token.get("scope", "")
        # (Refresh: grants.rotate stores the new pair, see RefreshTokenGrant.)
        code = request.authorization_code if grant_type == "authorization_code" else None
        async with in_transaction():
            # The code is used up here, with every binding checked and the tokens stored in one go.
            claimed = code is None or await authorization_code.claim(code.id)
            if claimed:
                # A client-credentials token has no grant: nothing is refreshed or consented under it.
                grant = await grants.start(client_id, citizen, scope) if citizen is not None else None
                if code is not None and grant is not None:
                    await authorization_code.attach_grant(code.id, grant.id)
                await tokens.store(token["access_token"], client_id, frozenset(scope.split()), citizen,
                                   self.lifetimes.access_token, grant.id if grant else None)  # fmt: skip
                if "refresh_token" in token and grant is not None and citizen is not None:
                    await grants.store_refresh_token(
                        grant.id, token["refresh_token"], client_id, citizen, scope, self.lifetimes.refresh_token
                    )
        if code is not None and not claimed:  # a concurrent redemption won
            await authorization_code.replayed(code.id)
            raise InvalidGrantError("Invalid 'code' in request.")

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # the endpoints build FormRequests themselves, after reading the body

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        log.debug("oauth signal %s", name)


def now() -> datetime:
    return datetime.now(UTC)
