"""The access log's published face: the latest signed checkpoint and the verifier keys, for anyone;
consistency proofs between two checkpoints (RFC 9162 2.1.4), for operators and their witnesses.

- ``GET /.well-known/cardhub-audit-checkpoint``: the latest checkpoint, a C2SP signed note (text/plain).
- ``GET /.well-known/cardhub-audit-keys``: every listed checkpoint key as a note verifier key
  (``<name>+<hash>+<key>``) and as a JWK, with its key id; old keys stay listed while they are.
- ``GET /audit/consistency?from=M&to=N``: the proof that checkpoint N extends checkpoint M, with
  both notes; loopback callers and the operator token only, as /readyz/details.
"""

from __future__ import annotations

import base64
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from auth.audit import tree
from auth.audit.checkpoints import AuditCheckpoint, CheckpointSigner

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def routes(signer: CheckpointSigner, operator_token: str) -> list[Route]:
    async def checkpoint(request: Request) -> Response:
        latest = await AuditCheckpoint.all().order_by("-tree_size").first()
        if latest is None:
            return PlainTextResponse("no checkpoint yet: the log is empty\n", status_code=404)
        return PlainTextResponse(latest.note, headers={"Cache-Control": "public, max-age=1"})

    async def keys(request: Request) -> Response:
        listed = [
            {"kid": k.kid, "vkey": k.vkey, "jwk": {"kty": "OKP", "crv": "Ed25519", "kid": k.kid,
                                                   "x": base64.urlsafe_b64encode(k.raw).decode().rstrip("=")}}
            for k in signer.verifier_keys()
        ]  # fmt: skip
        return JSONResponse({"origin": signer.origin, "current": signer.kid, "keys": listed})

    async def consistency(request: Request) -> Response:
        if not _is_operator(request, operator_token):
            return JSONResponse(
                {"error": "operator token required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="cardhub-operator"'},
            )
        first, second = request.query_params.get("from", ""), request.query_params.get("to", "")
        if not (first.isdigit() and second.isdigit()) or int(first) > int(second):
            return JSONResponse({"error": "from and to are two checkpoints' tree sizes, from <= to"}, status_code=400)
        old = await AuditCheckpoint.get_or_none(tree_size=int(first))
        new = await AuditCheckpoint.get_or_none(tree_size=int(second))
        if old is None or new is None:
            return JSONResponse({"error": "no checkpoint of that tree size"}, status_code=404)
        proof = await tree.consistency_proof(old.tree_size, new.tree_size)
        return JSONResponse(
            {
                "from": old.tree_size,
                "to": new.tree_size,
                "proof": [base64.b64encode(h).decode() for h in proof],
                "first": old.note,
                "second": new.note,
            }
        )

    return [
        Route("/.well-known/cardhub-audit-checkpoint", checkpoint),
        Route("/.well-known/cardhub-audit-keys", keys),
        Route("/audit/consistency", consistency),
    ]


def _is_operator(request: Request, expected: str) -> bool:
    if request.client is not None and request.client.host in LOOPBACK:
        return True
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())
