"""Sealing: authenticated encryption (AES-256-GCM) of small values under a purpose's current key.

A sealed value is text: ``sealed.v1.<kid>.<base64url(nonce || ciphertext || tag)>``. The key id says
which key opens it, so values sealed before a rotation still open while their key is listed. The
``context`` (associated data) binds a value to where it belongs: a secret sealed for one agency's
connector does not open as another's, a cached section does not open under another citizen's key.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.keyring import Key, KeySet

PREFIX = "sealed.v1."
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that does not open: unknown key, tampered, or sealed for another context."""


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


class Sealer:
    def __init__(self, keys: KeySet, label: str) -> None:
        self.keys = keys
        self._label = label
        self._ciphers: dict[str, AESGCM] = {k.kid: AESGCM(keys.derive(f"{label} aes-gcm", k)) for k in keys.keys}

    @property
    def kid(self) -> str:
        return self.keys.current.kid

    def seal(self, plaintext: bytes, context: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.kid].encrypt(nonce, plaintext, context)
        return f"{PREFIX}{self.kid}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str, context: bytes) -> bytes:
        kid, body = self.parts(value)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SealError(f"sealed under key {kid!r}, which is not among the {self.keys.purpose.env} keys")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context)
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError("a sealed value does not open: tampered, or sealed for something else") from None

    def parts(self, value: str) -> tuple[str, str]:
        """(key id, body) of a sealed value."""
        if not is_sealed(value):
            raise SealError("not a sealed value")
        kid, sep, body = value[len(PREFIX) :].partition(".")
        if not sep or not kid or not body:
            raise SealError("a sealed value is malformed")
        return kid, body

    def is_current(self, value: str) -> bool:
        return is_sealed(value) and self.parts(value)[0] == self.kid

    @staticmethod
    def key_of(value: str) -> str | None:
        if not is_sealed(value):
            return None
        return value[len(PREFIX) :].partition(".")[0] or None


__all__ = ["Key", "SealError", "Sealer", "is_sealed"]
