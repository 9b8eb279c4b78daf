"""Signing with a purpose's keys: Ed25519 over bytes, the key id travelling with each signature.

The key setting holds 32-byte seeds in the keyring's one format (``KID:KEY``); the first signs, every
one listed verifies, and every one listed is published (``public_keys``) so that what was signed
before a rotation still verifies until the old key is dropped.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.keyring import Key, KeySet


class SignatureError(ValueError):
    """A signature that does not verify, or names a key that is not listed."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    kid: str
    raw: bytes  # 32 bytes

    def jwk(self) -> dict[str, str]:
        """RFC 8037: an OKP key with the fully-specified algorithm name of RFC 9864."""
        x = base64.urlsafe_b64encode(self.raw).decode().rstrip("=")
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "Ed25519", "use": "sig"}


class Signer:
    def __init__(self, keys: KeySet, label: str) -> None:
        self.keys = keys
        self._private = {
            k.kid: Ed25519PrivateKey.from_private_bytes(keys.derive(f"{label} ed25519", k)) for k in keys.keys
        }

    @property
    def kid(self) -> str:
        return self.keys.current.kid

    def sign(self, message: bytes) -> bytes:
        return self._private[self.kid].sign(message)

    def public_keys(self) -> list[PublicKey]:
        """Every listed key's public half, current first."""
        return [PublicKey(k.kid, self._public(k).public_bytes(Encoding.Raw, PublicFormat.Raw)) for k in self.keys.keys]

    def verify(self, kid: str, message: bytes, signature: bytes) -> None:
        key = self.keys.find(kid)
        if key is None:
            raise SignatureError(f"signed with key {kid!r}, which is not among the {self.keys.purpose.env} keys")
        try:
            self._public(key).verify(signature, message)
        except InvalidSignature:
            raise SignatureError("the signature does not verify") from None

    def _public(self, key: Key) -> Ed25519PublicKey:
        return self._private[key.kid].public_key()


def verify_with(public: PublicKey, message: bytes, signature: bytes) -> bool:
    """Offline verification with a published key (no private key, no hub)."""
    try:
        Ed25519PublicKey.from_public_bytes(public.raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
