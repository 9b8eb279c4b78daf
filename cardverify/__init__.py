"""Offline verification of the hub's virtual card credentials: no hub imports, no network.

A terminal vendor needs only this package (and ``cbor2`` and ``cryptography``)::

    from cardverify import PublicKeys, verify
    keys = PublicKeys.from_jwks(open("card-keys.json").read())
    answer = verify(qr_text, keys, "transit", time.time())
"""

from __future__ import annotations

from cardverify.format import Claims, Purpose
from cardverify.keyset import KeySetError, PublicKeys
from cardverify.verifier import Refusal, Verified, verify

__all__ = ["Claims", "KeySetError", "PublicKeys", "Purpose", "Refusal", "Verified", "verify"]
