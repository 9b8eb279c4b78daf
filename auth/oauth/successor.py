"""A rotated refresh token's successor, sealed under the rotated token itself (RFC 9700 section 4.14.2).

Rotation retires a refresh token the moment it is used. An app that sends the same refresh twice at
once (two tabs, a retry after a lost response) would then look like a thief and lose the grant. The
grace interval answers such a duplicate with the pair the first request got, so that pair must be
deliverable again: it is kept encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from the
old refresh token. The hub stores only that token's SHA-256 hash, which does not give the key: the
pair opens only for whoever presents the old token again, and nothing at rest reads as a token.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"cardhub refresh-token successor v1"
_NONCE_BYTES = 12


def _key(old_refresh_token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(old_refresh_token.encode())


def seal(old_refresh_token: str, token_hash: str, pair: dict[str, Any]) -> str:
    """The new token response, readable only with ``old_refresh_token``; bound to its row by the hash."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_key(old_refresh_token)).encrypt(nonce, json.dumps(pair).encode(), token_hash.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(old_refresh_token: str, token_hash: str, sealed: str) -> dict[str, Any] | None:
    """The pair ``seal`` stored, or None when it does not open (not sealed for this token)."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = AESGCM(_key(old_refresh_token)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], token_hash.encode())
    except (ValueError, InvalidTag):
        return None
    pair: dict[str, Any] = json.loads(plain)
    return pair
