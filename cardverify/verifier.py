"""Verify a virtual card credential offline: ``verify(qr_text, keys, purpose, now)``.

No network, no hub: the text read from the QR code, the hub's published keys (``keyset``) and the
terminal's clock. The answer is the credential's claims (``Verified``) or a ``Refusal`` with its
code; hostile input of any kind is a refusal, never an exception. The checks run in this order,
so nothing unsigned is believed: MALFORMED (not a credential), UNKNOWN_KEY, BAD_SIGNATURE,
WRONG_PURPOSE, EXPIRED.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import cbor2

from cardverify import base45
from cardverify.format import (
    ALG_ED25519,
    CARD_PSEUDONYM,
    CARD_PURPOSE,
    CLAIM_CARD,
    CLAIM_CTI,
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    COSE_SIGN1_TAG,
    CTI_BYTES,
    FIELDS,
    HEADER_ALG,
    HEADER_KID,
    MAX_LIFETIME_SECONDS,
    MAX_PAYLOAD,
    MAX_TEXT,
    PREFIX,
    PSEUDONYM_BYTES,
    Claims,
    Purpose,
    to_be_signed,
)
from cardverify.keyset import PublicKeys

MALFORMED = "MALFORMED"
UNKNOWN_KEY = "UNKNOWN_KEY"
BAD_SIGNATURE = "BAD_SIGNATURE"
WRONG_PURPOSE = "WRONG_PURPOSE"
EXPIRED = "EXPIRED"
CLOCK_LEEWAY_SECONDS = 60  # a terminal's clock may run this far behind the hub's


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    reason: str

    def __bool__(self) -> bool:  # `if verify(...)` reads as "if it verified"
        return False


@dataclass(frozen=True, slots=True)
class Verified:
    kid: str
    claims: Claims

    @property
    def facts(self) -> Mapping[str, object]:
        return self.claims.facts


class _Malformed(Exception):
    pass


def verify(qr_text: str, keys: PublicKeys, purpose: Purpose | str, now: float) -> Verified | Refusal:
    try:
        wanted = purpose if isinstance(purpose, Purpose) else Purpose.named(purpose)
    except (KeyError, AttributeError):
        return Refusal(WRONG_PURPOSE, "the terminal asked for an unknown purpose")
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        return Refusal(EXPIRED, "the terminal's clock gives no time: nothing can be shown valid")
    try:
        protected, kid, body, signature = _unwrap(qr_text)
    except _Malformed as exc:
        return Refusal(MALFORMED, str(exc))
    except Exception:  # anything a decoder can raise on hostile bytes: still just not a credential
        return Refusal(MALFORMED, "not a card credential")
    key = keys.by_kid.get(kid)
    if key is None:
        return Refusal(UNKNOWN_KEY, "signed with a key the terminal does not hold: fetch the key set again")
    if not key(signature, to_be_signed(protected, body)):
        return Refusal(BAD_SIGNATURE, "the signature does not verify")
    try:
        claims = _claims(body)
    except Exception:
        return Refusal(MALFORMED, "signed, but not card claims")
    if claims.purpose is not wanted:
        return Refusal(WRONG_PURPOSE, f"a {claims.purpose.label} credential, shown for {wanted.label}")
    if now >= claims.expires_at:
        return Refusal(EXPIRED, "the credential has expired: ask for a fresh code")
    if claims.issued_at > now + CLOCK_LEEWAY_SECONDS:
        return Refusal(EXPIRED, "issued in the future: check the terminal's clock")
    return Verified(kid.decode("ascii", "replace"), claims)


def _unwrap(text: str) -> tuple[bytes, bytes, bytes, bytes]:
    if not isinstance(text, str) or len(text) > MAX_TEXT or not text.startswith(PREFIX):
        raise _Malformed("not a card credential (it starts with CC1:)")
    try:
        compressed = base45.decode(text[len(PREFIX) :])
    except base45.Base45Error as exc:
        raise _Malformed(str(exc)) from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, MAX_PAYLOAD + 1)
    except zlib.error:
        raise _Malformed("the compressed data is damaged") from None
    if len(raw) > MAX_PAYLOAD or not inflater.eof or inflater.unused_data:
        raise _Malformed("the compressed data is damaged or too long")
    tagged = cbor2.loads(raw)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != COSE_SIGN1_TAG:
        raise _Malformed("not a COSE_Sign1 structure")
    parts = tagged.value
    if not isinstance(parts, list) or len(parts) != 4:
        raise _Malformed("not a COSE_Sign1 structure")
    protected, unprotected, body, signature = parts
    if not all(isinstance(p, bytes) for p in (protected, body, signature)) or not isinstance(unprotected, dict):
        raise _Malformed("not a COSE_Sign1 structure")
    header = cbor2.loads(protected)
    if not isinstance(header, dict) or header.get(HEADER_ALG) != ALG_ED25519 or unprotected:
        raise _Malformed("not signed with Ed25519 (COSE algorithm -19)")
    kid = header.get(HEADER_KID)
    if not isinstance(kid, bytes) or len(signature) != 64:
        raise _Malformed("no key id, or not an Ed25519 signature")
    return protected, kid, body, signature


def _claims(body: bytes) -> Claims:
    cwt = cbor2.loads(body)
    if not isinstance(cwt, dict):
        raise _Malformed("the claims are not a map")
    issuer, exp, iat, cti, card = (cwt.get(k) for k in (CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_CARD))
    if not isinstance(issuer, str) or not _is_int(exp) or not _is_int(iat) or not isinstance(card, dict):
        raise _Malformed("a required claim is missing")
    if not 0 < exp - iat <= MAX_LIFETIME_SECONDS:
        raise _Malformed("a lifetime no card credential has")
    if not isinstance(cti, bytes) or len(cti) != CTI_BYTES:
        raise _Malformed("no credential id")
    purpose = Purpose(card.get(CARD_PURPOSE)) if _is_int(card.get(CARD_PURPOSE)) else None
    pseudonym = card.get(CARD_PSEUDONYM)
    if purpose is None or not isinstance(pseudonym, bytes) or len(pseudonym) != PSEUDONYM_BYTES:
        raise _Malformed("no purpose or pseudonym")
    return Claims(issuer, purpose, iat, exp, cti, pseudonym, _facts(purpose, card))


def _facts(purpose: Purpose, card: dict[Any, Any]) -> dict[str, object]:
    facts: dict[str, object] = {}
    for f in FIELDS[purpose]:
        value = card.get(f.key)
        if value is None and f.nullable:
            facts[f.name] = None
        elif type(value) is f.kind:
            facts[f.name] = value
        else:
            raise _Malformed(f"claim {f.name} is missing or of the wrong type")
    return facts


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int
