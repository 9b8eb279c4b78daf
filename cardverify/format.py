"""The virtual card credential, byte by byte (docs/virtual-card.md is the prose of this module).

Text in the QR code::

    "CC1:" + base45( zlib( COSE_Sign1 ) )

COSE_Sign1 (RFC 9052 section 4.2, CBOR tag 18)::

    18([ protected: bstr .cbor {1: -19, 4: kid}, unprotected: {}, payload: bstr .cbor claims, signature: bstr ])

``-19`` is Ed25519, fully specified (RFC 9864); the key id is in the protected header so it is
signed too. The signature is Ed25519 over the Sig_structure
``["Signature1", protected, h'', payload]`` (RFC 9052 section 4.4).

The payload is a CWT claims set (RFC 8392), deterministically encoded (RFC 8949 section 4.2)::

    { 1: iss (text), 4: exp (int), 6: iat (int), 7: cti (bstr, 12 random bytes),
      -65537: { 1: purpose (uint), 2: pseudonym (bstr, 16 bytes), <the purpose's own claims> } }

``-65537`` is the first private-use claim key. Each purpose carries only what its terminal needs:

==========  ====  ===========================  ======================
purpose     code  claim keys                   values
==========  ====  ===========================  ======================
transit     1     10 card valid, 11 concession bool, text
library     2     20 patron valid, 21 blocked  bool, bool
clinic      3     30 health card, 31 clinic    text or null, text or null
identity    4     40 name, 41 card number      text, text
==========  ====  ===========================  ======================
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cbor2

from cardverify import base45

PREFIX = "CC1:"
COSE_SIGN1_TAG = 18
ALG_ED25519 = -19  # RFC 9864: fully specified Ed25519
HEADER_ALG = 1
HEADER_KID = 4
CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_CTI = 7
CLAIM_CARD = -65537  # the first private-use CWT claim key (RFC 8392 section 9.1)
CARD_PURPOSE = 1
CARD_PSEUDONYM = 2
CTI_BYTES = 12
PSEUDONYM_BYTES = 16
MAX_LIFETIME_SECONDS = 300
MAX_TEXT = 2000  # characters: more than any QR code of version 12 holds
MAX_PAYLOAD = 2048  # bytes once decompressed: nothing longer is a card credential


class Purpose(enum.Enum):
    TRANSIT = 1
    LIBRARY = 2
    CLINIC = 3
    IDENTITY = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, name: str) -> Purpose:
        """``transit`` or ``TRANSIT``; KeyError for anything else."""
        return cls[name.upper()]


@dataclass(frozen=True, slots=True)
class Field:
    key: int
    name: str
    kind: type  # bool or str
    nullable: bool = False


FIELDS: Mapping[Purpose, tuple[Field, Field]] = {
    Purpose.TRANSIT: (Field(10, "card_valid", bool), Field(11, "concession", str)),
    Purpose.LIBRARY: (Field(20, "patron_valid", bool), Field(21, "borrowing_blocked", bool)),
    Purpose.CLINIC: (Field(30, "health_card_number", str, True), Field(31, "registered_clinic", str, True)),
    Purpose.IDENTITY: (Field(40, "name", str), Field(41, "card_number", str)),
}


@dataclass(frozen=True, slots=True)
class Claims:
    """What a credential says, by name (``facts``: the purpose's own claims, named as in FIELDS)."""

    issuer: str
    purpose: Purpose
    issued_at: int
    expires_at: int
    credential_id: bytes
    pseudonym: bytes
    facts: Mapping[str, object]


def protected_header(kid: str) -> bytes:
    return cbor2.dumps({HEADER_ALG: ALG_ED25519, HEADER_KID: kid.encode()}, canonical=True)


def payload(claims: Claims) -> bytes:
    card: dict[int, object] = {CARD_PURPOSE: claims.purpose.value, CARD_PSEUDONYM: claims.pseudonym}
    for f in FIELDS[claims.purpose]:
        card[f.key] = claims.facts[f.name]
    cwt = {
        CLAIM_ISS: claims.issuer,
        CLAIM_EXP: claims.expires_at,
        CLAIM_IAT: claims.issued_at,
        CLAIM_CTI: claims.credential_id,
        CLAIM_CARD: card,
    }
    return cbor2.dumps(cwt, canonical=True)


def to_be_signed(protected: bytes, body: bytes) -> bytes:
    """The Sig_structure of a COSE_Sign1 with no external data (RFC 9052 section 4.4)."""
    return cbor2.dumps(["Signature1", protected, b"", body])


def encode(claims: Claims, kid: str, sign: Callable[[bytes], bytes]) -> str:
    """The QR text of ``claims``, signed by ``sign`` (Ed25519 under the key ``kid``)."""
    protected = protected_header(kid)
    body = payload(claims)
    signature = sign(to_be_signed(protected, body))
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, body, signature]))
    return PREFIX + base45.encode(zlib.compress(cose, 9))
