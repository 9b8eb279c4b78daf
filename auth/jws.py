"""JWS compact serialization (RFC 7515 section 7.1) with Ed25519, for what the hub signs as JSON.

The algorithm is named by its fully-specified name ``Ed25519`` (RFC 9864 section 2.2; the polymorphic
``EdDSA`` is deprecated there). Keys are a purpose's keys (``keys.signing.Signer``), the ``kid`` in the
protected header names the key, and the public halves are published as a JWKS (``jwks``).

Verification needs only the published keys (``PublicKey``): receivers and ``cardhub consent receipt
verify`` check without the hub's private keys. Only ``alg`` ``Ed25519`` is accepted: a header naming
any other (``none``, ``HS256``) is refused before any key is looked at (RFC 8725 section 3.1).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from keys.signing import PublicKey, Signer, verify_with

ALG = "Ed25519"


class JWSError(ValueError):
    """A token that is not a JWS the hub signed: malformed, another algorithm, unknown key, bad signature."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JWSError("not base64url") from None


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same claims always sign to the same bytes."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign(signer: Signer, claims: Mapping[str, Any], typ: str) -> str:
    header = {"alg": ALG, "kid": signer.kid, "typ": typ}
    signing_input = f"{b64url(canonical_json(header))}.{b64url(canonical_json(claims))}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode()))}"


def header_of(token: str) -> dict[str, Any]:
    """The protected header, unverified (to pick the key set)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWSError("not a JWS in compact form (three dot-separated parts)")
    return _json(parts[0], "header")


def verify(token: str, keys: Iterable[PublicKey], typ: str) -> dict[str, Any]:
    """The claims of ``token`` if it verifies under one of ``keys`` (by ``kid``); else JWSError."""
    header = header_of(token)
    if header.get("alg") != ALG:
        raise JWSError(f"algorithm {header.get('alg')!r} is not accepted; only {ALG}")
    if header.get("typ") != typ:
        raise JWSError(f"type {header.get('typ')!r} is not {typ!r}")
    kid = header.get("kid")
    key = next((k for k in keys if k.kid == kid), None)
    if key is None:
        raise JWSError(f"signed with key {kid!r}, which is not among the published keys")
    protected, payload, signature = token.strip().split(".")
    if not verify_with(key, f"{protected}.{payload}".encode(), unb64url(signature)):
        raise JWSError("the signature does not verify")
    return _json(payload, "payload")


def jwks(signer: Signer) -> dict[str, Any]:
    """Every listed key's public half, current first (RFC 7517 section 5)."""
    return {"keys": [k.jwk() for k in signer.public_keys()]}


def keys_from_jwks(document: Mapping[str, Any]) -> list[PublicKey]:
    """The Ed25519 keys of a published JWKS; others are skipped."""
    found: list[PublicKey] = []
    for jwk in document.get("keys", []):
        if isinstance(jwk, Mapping) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            raw = unb64url(str(jwk.get("x", "")))
            if len(raw) == 32 and isinstance(jwk.get("kid"), str):
                found.append(PublicKey(jwk["kid"], raw))
    return found


def _json(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(unb64url(part))
    except (ValueError, UnicodeDecodeError):
        raise JWSError(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise JWSError(f"the {what} is not a JSON object")
    return value
