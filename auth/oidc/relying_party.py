"""Login at the city's OpenID Provider: authorization code flow with PKCE (OpenID Connect Core §3.1).

authlib's Starlette client does the protocol's mechanics (discovery, PKCE S256, ``state`` and
``nonce`` kept in the session, the code exchange with the configured client authentication, ID token
signature through the provider's JWKS, fetched again when a token names a key it does not hold). This
module adds what it leaves out, and turns every failure into one typed error (``errors.py``):

- the authorization response's ``iss`` (RFC 9207), which authlib does not check;
- the discovery document's ``issuer`` is the configured one (OpenID Connect Discovery §4.3);
- ``auth_time`` present and no older than ``max_age`` (Core §3.1.2.1, §3.1.3.7 item 13);
- the userinfo response's ``sub`` is the ID token's (Core §5.3.2, "MUST be verified").

A state is used once: it leaves the session before its code is redeemed, whatever happens next.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from starlette.requests import Request

from auth.oidc.errors import (
    IdTokenInvalid,
    IssuerMismatch,
    StateMismatch,
    UpstreamBadResponse,
    UpstreamLoginError,
    UpstreamRefused,
    UpstreamTimeout,
    UpstreamUnreachable,
)

log = logging.getLogger("cardhub.oidc")

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
_NAME = "city"
_NEXT = "cardhub_next"


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """The hub's registration at the provider, and how strict the hub is with it."""

    issuer: str
    client_id: str
    redirect_uri: str  # the hub's /login/callback, registered at the provider
    client_secret: str = field(default="", repr=False)
    client_auth: str = "client_secret_basic"
    private_key: str = field(default="", repr=False)  # PEM, for private_key_jwt
    discovery_url: str = ""  # "": {issuer}/.well-known/openid-configuration
    scopes: tuple[str, ...] = ("openid",)
    max_age_seconds: int = 3600  # how long ago the citizen may have authenticated at the provider
    timeout_seconds: float = 5.0
    leeway_seconds: int = 60  # clock difference allowed on exp, iat and auth_time
    post_logout_redirect_uri: str = ""

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class UpstreamIdentity:
    """Who the provider says logged in: its issuer, the subject, and the claims (ID token, then userinfo)."""

    issuer: str
    subject: str
    claims: Mapping[str, Any]
    id_token: str = field(repr=False)


class RelyingParty:
    def __init__(self, config: ProviderConfig) -> None:
        if config.client_auth not in CLIENT_AUTH_METHODS:
            raise ValueError(f"client_auth: one of {', '.join(CLIENT_AUTH_METHODS)}")
        if "openid" not in config.scopes:
            raise ValueError("scopes must include openid")
        self.config = config
        private = config.client_auth == "private_key_jwt"
        oauth = OAuth()
        oauth.register(
            _NAME,
            client_id=config.client_id,
            client_secret=config.private_key if private else config.client_secret,
            server_metadata_url=config.metadata_url,
            client_auth_methods=[PrivateKeyJWT()] if private else None,
            client_kwargs={
                "scope": " ".join(config.scopes),
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": config.client_auth,
                "timeout": config.timeout_seconds,
            },
        )
        self._client = cast(StarletteOAuth2App, oauth.create_client(_NAME))

    async def begin(self, request: Request, next_path: str) -> str:
        """The provider's authorization URL for a new login; its state, nonce and PKCE verifier go into
        the session, with ``next_path`` for after the callback."""
        await self._metadata()
        params: dict[str, Any] = {"max_age": self.config.max_age_seconds}
        created = await _upstream(self._client.create_authorization_url(self.config.redirect_uri, **params))
        url = str(created.pop("url"))
        await self._client.save_authorize_data(request, redirect_uri=self.config.redirect_uri, **created, **{
            _NEXT: next_path
        })  # fmt: skip
        return url

    async def finish(self, request: Request) -> tuple[UpstreamIdentity, str]:
        """Check the authorization response, redeem its code, validate the ID token, read userinfo.

        Returns who logged in and the path the login was started for."""
        query = request.query_params
        state = query.get("state") or ""
        framework = self._client.framework
        pending = await framework.get_state_data(request.session, state) if state else None
        if pending is None:
            raise StateMismatch("no login under way with this state (used already, expired, or not ours)")
        # From here on the state is spent: a second response carrying it finds nothing.
        await framework.clear_state_data(request.session, state)
        metadata = await self._metadata()
        self._check_response_issuer(query.get("iss"), metadata)
        if query.get("error"):
            raise UpstreamRefused(f"{query.get('error')}: {query.get('error_description') or ''}".strip(": "))
        code = query.get("code")
        if not code:
            raise UpstreamBadResponse("authorization response without a code")
        token = await _upstream(
            self._client.fetch_access_token(
                code=code, redirect_uri=pending.get("redirect_uri"), code_verifier=pending.get("code_verifier")
            )
        )
        if not isinstance(token, Mapping) or not isinstance(token.get("id_token"), str):
            raise IdTokenInvalid("missing", "the token response has no ID token")
        claims = await self._id_token_claims(dict(token), str(pending.get("nonce") or ""), metadata)
        merged = {**claims, **await self._userinfo(dict(token), metadata, str(claims["sub"]))}
        identity = UpstreamIdentity(metadata["issuer"].rstrip("/"), str(claims["sub"]), merged, token["id_token"])
        return identity, str(pending.get(_NEXT) or "")

    async def end_session_url(self, id_token_hint: str, state: str = "") -> str | None:
        """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): where to send the browser, or None
        when the provider offers no end_session_endpoint (or cannot be reached to say)."""
        try:
            metadata = await self._metadata()
        except UpstreamLoginError as exc:
            log.warning("oidc logout: provider metadata unavailable (%s); ending the hub session only", exc.code)
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        params: dict[str, Any] = {"client_id": self.config.client_id}
        if self.config.post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = self.config.post_logout_redirect_uri
            params["state"] = state or None
        result = await self._client.create_logout_url(id_token_hint=id_token_hint or None, **params)
        return str(result["url"])

    async def _metadata(self) -> dict[str, Any]:
        metadata = await _upstream(self._client.load_server_metadata())
        if not isinstance(metadata, dict) or not all(
            isinstance(metadata.get(k), str) for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        ):
            self._client.server_metadata = {}  # not kept: the next login asks again
            raise UpstreamBadResponse("discovery document without issuer, endpoints or jwks_uri")
        # OpenID Connect Discovery §4.3: the issuer returned MUST be identical to the one configured.
        if metadata["issuer"].rstrip("/") != self.config.issuer.rstrip("/"):
            self._client.server_metadata = {}
            raise UpstreamBadResponse(f"discovery names issuer {metadata['issuer']!r}, not the configured one")
        # Never an unsigned ID token, whatever the provider advertises.
        algs = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [a for a in algs if str(a).lower() != "none"]
        return metadata

    def _check_response_issuer(self, iss: str | None, metadata: Mapping[str, Any]) -> None:
        # RFC 9207 §2.4: a client that knows the server sends iss MUST refuse a response without it, and
        # MUST refuse one whose iss is not the server's.
        if iss is None:
            if metadata.get("authorization_response_iss_parameter_supported"):
                raise IssuerMismatch("authorization response without iss")
            return
        if iss != metadata["issuer"]:
            raise IssuerMismatch(f"authorization response from {iss!r}")

    async def _id_token_claims(self, token: dict[str, Any], nonce: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        if not nonce:
            raise IdTokenInvalid("nonce", "no nonce was kept for this login")
        try:
            claims = await self._client.parse_id_token(
                token,
                nonce=nonce,
                claims_options={
                    "iss": {"essential": True, "values": [metadata["issuer"]]},
                    "aud": {"essential": True, "values": [self.config.client_id]},
                    "exp": {"essential": True},
                    "sub": {"essential": True},
                },
                leeway=self.config.leeway_seconds,
            )
        except ExpiredTokenError as exc:
            raise IdTokenInvalid("expired", str(exc)) from None
        except BadSignatureError as exc:
            raise IdTokenInvalid("signature", str(exc)) from None
        except ClaimError as exc:
            raise IdTokenInvalid(exc.claim, str(exc)) from None
        except JoseError as exc:  # not a JWT, an unknown key even after fetching the JWKS again, ...
            raise IdTokenInvalid("malformed", f"{exc.error}: {exc}") from None
        except (httpx2.HTTPError, ValueError, RuntimeError) as exc:  # the JWKS could not be fetched or read
            raise _upstream_error(exc) from None
        if claims is None:
            raise IdTokenInvalid("missing")
        self._check_auth_time(claims)
        return dict(claims)

    def _check_auth_time(self, claims: Mapping[str, Any]) -> None:
        # Core §3.1.2.1: with max_age sent, auth_time is REQUIRED, and the client checks its age.
        auth_time = claims.get("auth_time")
        if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
            raise IdTokenInvalid("auth_time", "no auth_time although max_age was sent")
        age = time.time() - auth_time
        if age > self.config.max_age_seconds + self.config.leeway_seconds or age < -self.config.leeway_seconds:
            raise IdTokenInvalid("auth_time", f"authenticated {int(age)} s ago")

    async def _userinfo(self, token: dict[str, Any], metadata: Mapping[str, Any], subject: str) -> dict[str, Any]:
        if not metadata.get("userinfo_endpoint"):
            return {}
        info = await _upstream(self._client.userinfo(token=token))
        if not isinstance(info, Mapping):
            raise UpstreamBadResponse("userinfo is not a JSON object")
        # Core §5.3.2: the sub in the UserInfo Response MUST be verified to exactly match the ID token's.
        if info.get("sub") != subject:
            raise UpstreamBadResponse("userinfo names another subject")
        return dict(info)


async def _upstream(awaitable: Any) -> Any:
    """Await a call to the provider; its transport and format failures become typed errors."""
    try:
        return await awaitable
    except OAuthError as exc:
        raise UpstreamRefused(f"{exc.error}: {exc.description or ''}".strip(": ")) from None
    except (httpx2.HTTPError, ValueError, RuntimeError, KeyError) as exc:
        raise _upstream_error(exc) from None


def _upstream_error(exc: Exception) -> UpstreamLoginError:
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeout(type(exc).__name__)
    if isinstance(exc, httpx2.TransportError):
        return UpstreamUnreachable(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx2.HTTPStatusError):
        return UpstreamBadResponse(f"HTTP {exc.response.status_code} from {exc.request.url}")
    if isinstance(exc, json.JSONDecodeError):
        return UpstreamBadResponse("not JSON")
    return UpstreamBadResponse(f"{type(exc).__name__}: {exc}")
