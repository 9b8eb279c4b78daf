"""The hub's published card keys (a JWK set, RFC 7517 section 5), loaded for offline use.

Each usable key is an OKP key on Ed25519 (RFC 8037) with a ``kid``; other keys in the set are
skipped, so a set that later lists keys of another kind still loads. A terminal fetches the set
from ``/.well-known/cardhub-card-keys`` while online and keeps it (``cardhub card keys fetch``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cardverify import ed25519

Checker = Callable[[bytes, bytes], bool]  # (signature, message) -> whether it verifies

MAX_KID = 64


class KeySetError(ValueError):
    """A key set that cannot be used."""


@dataclass(frozen=True)
class PublicKeys:
    by_kid: Mapping[bytes, Checker]
    issuer: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.by_kid)

    @classmethod
    def from_jwks(cls, document: str | bytes | Mapping[str, Any]) -> PublicKeys:
        data = _as_mapping(document)
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise KeySetError('a key set is {"keys": [...]}')
        keys: dict[bytes, Checker] = {}
        for entry in entries:
            usable = _ed25519(entry)
            if usable is not None:
                keys[usable[0]] = usable[1]
        if not keys:
            raise KeySetError("the key set holds no Ed25519 key")
        issuer = data.get("issuer", "")
        return cls(keys, issuer if isinstance(issuer, str) else "", data)

    @classmethod
    def of(cls, keys: Mapping[str, bytes]) -> PublicKeys:
        """From raw 32-byte public keys by key id (tests and tools)."""
        return cls({kid.encode(): ed25519.checker(raw) for kid, raw in keys.items()})


def _as_mapping(document: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeySetError(f"the key set is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise KeySetError('a key set is {"keys": [...]}')
    return data


def _ed25519(entry: object) -> tuple[bytes, Checker] | None:
    if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        return None
    kid, x = entry.get("kid"), entry.get("x")
    if entry.get("use", "sig") != "sig" or not isinstance(kid, str) or not isinstance(x, str):
        return None
    if not 0 < len(kid) <= MAX_KID:
        return None
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return kid.encode(), ed25519.checker(raw)
    except (binascii.Error, ValueError):
        raise KeySetError(f"key {kid!r}: x is not a 32-byte Ed25519 public key in base64url") from None
