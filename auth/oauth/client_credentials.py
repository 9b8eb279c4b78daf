"""Client credentials (RFC 6749 section 4.4) issued on the event loop: an agency's everyday token.

Authlib's server is synchronous (``server.py``): it runs in a worker thread and each storage call hops
back to the loop, so a token cost three thread hops and a client read. This issues the token for a
plain, well-formed request of an active agency client whose secret checks, on the loop, with the client
read through the request's revocation fence (``auth/epoch.py``: disabling a client, deleting it or
rotating its secret changes the row and so moves the epoch; the next request reads the database), and
the token group-committed with those of concurrent requests.

Anything else returns None and goes to Authlib, which words every refusal: a repeated parameter, an
unknown or disabled client, a wrong secret, a client of another type, a scope not registered or not
supported. So this path only ever issues a token Authlib would have issued, with the same body and
headers (``Cache-Control: no-store``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from urllib.parse import unquote

from authlib.consts import default_json_headers

from auth import clients, tokens
from auth.clients import Client, ClientType
from auth.epoch import Fence
from auth.group_commit import GroupCommit
from auth.oauth.server import FormRequest, OAuthResponse
from auth.tokens import AccessToken

GRANT_TYPE = "client_credentials"


async def issue(
    request: FormRequest,
    fence: Fence,
    lifetime: int,
    supported: Collection[str],
    writes: GroupCommit[AccessToken] | None = None,
) -> OAuthResponse | None:
    """The token response, or None: let Authlib answer. ``writes``: the token is group-committed with
    those of concurrent requests (``auth/group_commit.py``); the answer still waits for its commit."""
    if any(len(values) != 1 for values in request.payload.datalist.values()):
        return None
    form = request.form
    if form.get("grant_type") != GRANT_TYPE:
        return None
    client_id, secret = _credentials(request)
    if not client_id or not secret:
        return None
    client: Client | None = await fence.lookup(
        ("client", client_id), lambda: clients.find_active(client_id), keep_none=False
    )
    if client is None or client.type is not ClientType.AGENCY or not client.check_secret(secret):
        return None
    requested = form.get("scope", "")
    wanted = set(requested.split())
    if not wanted <= client.scopes or not wanted <= set(supported):
        return None
    scope = requested if wanted else " ".join(sorted(client.scopes))  # RFC 6749 3.3: the registered default
    raw = tokens.new_token()
    stored = tokens.row(raw, client.client_id, frozenset(scope.split()), None, lifetime, None)
    await (writes.insert([stored]) if writes is not None else stored.save())
    body = {"token_type": "Bearer", "access_token": raw, "expires_in": lifetime, "scope": scope}
    return OAuthResponse(200, body, list(default_json_headers))


def _credentials(request: FormRequest) -> tuple[str | None, str | None]:
    """``client_secret_basic`` when an Authorization header is sent, else ``client_secret_post``."""
    header = request.headers.get("Authorization")
    if header is None:
        return request.form.get("client_id"), request.form.get("client_secret")
    kind, _, encoded = header.partition(" ")
    if kind.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if colon else (None, None)
