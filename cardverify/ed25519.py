"""Ed25519 signature checks (RFC 8032): libsodium through PyNaCl when it is installed, about twice
as fast as OpenSSL's through ``cryptography``, which is used otherwise. Both refuse the same
signatures of an honest key; ``BACKEND`` says which one runs."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def _openssl(public: bytes) -> Callable[[bytes, bytes], bool]:
    key = Ed25519PublicKey.from_public_bytes(public)

    def check(signature: bytes, message: bytes) -> bool:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return check


try:
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError, CryptoError

    def _libsodium(public: bytes) -> Callable[[bytes, bytes], bool]:
        Ed25519PublicKey.from_public_bytes(public)  # the same refusal of a malformed key as OpenSSL's

        def check(signature: bytes, message: bytes) -> bool:
            try:
                crypto_sign_open(signature + message, public)
            except (BadSignatureError, CryptoError, ValueError):
                return False
            return True

        return check

    BACKEND = "libsodium"
    checker: Callable[[bytes], Callable[[bytes, bytes], bool]] = _libsodium
except ImportError:  # pragma: no cover - depends on what is installed
    BACKEND = "openssl"
    checker = _openssl
