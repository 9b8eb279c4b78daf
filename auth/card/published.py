"""The card keys, published for terminals: ``GET /.well-known/cardhub-card-keys`` (a JWK set).

Every key in ``CARDHUB_CARD_KEY`` is listed, current first: a key listed second is published before
it signs anything (so terminals hold it by the time it does), and a key that signed stays published
while it is listed (so its last credentials verify until they expire). Terminals may keep the set
for ``max-age`` and revalidate it with its ETag.
"""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from auth.card.issuer import JWKS_PATH, CardIssuer

MAX_AGE_SECONDS = 3600
MEDIA_TYPE = "application/jwk-set+json"


def route(issuer: CardIssuer) -> Route:
    body = json.dumps(issuer.jwks(), separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",  # public keys: a browser-based terminal may fetch them too
        "X-Content-Type-Options": "nosniff",
    }

    async def keys(request: Request) -> Response:
        if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=MEDIA_TYPE, headers=headers)

    return Route(JWKS_PATH, keys, methods=["GET", "HEAD"])
