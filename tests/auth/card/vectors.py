"""The test vectors of docs/virtual-card.md: fixed keys and claims, so each text is always the same."""

from __future__ import annotations

import base64

from cardverify.format import Claims, Purpose, encode
from keys.keyring import CARD, KeySet
from keys.signing import Signer

KEY_SETTING = "vector-1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
ISSUER = "https://hub.example"
ISSUED_AT = 1_800_000_000
VERIFY_AT = ISSUED_AT + 60
FACTS: dict[Purpose, dict[str, object]] = {
    Purpose.TRANSIT: {"card_valid": True, "concession": "SENIOR"},
    Purpose.LIBRARY: {"patron_valid": True, "borrowing_blocked": False},
    Purpose.CLINIC: {"health_card_number": "HC3502031234567890", "registered_clinic": "思明区鹭江街道社区卫生服务中心"},
    Purpose.IDENTITY: {"name": "陈美玲", "card_number": "350200000001"},
}


def signer() -> Signer:
    return Signer(KeySet.parse(CARD, KEY_SETTING), "card credential")


def claims(purpose: Purpose) -> Claims:
    return Claims(ISSUER, purpose, ISSUED_AT, ISSUED_AT + 300, bytes(range(12)), bytes(range(100, 116)), FACTS[purpose])


def vector(purpose: Purpose) -> str:
    return encode(claims(purpose), "vector-1", signer().sign)


if __name__ == "__main__":  # prints the vectors for the docs
    import json

    print(json.dumps({"keys": [k.jwk() for k in signer().public_keys()]}))
    for p in Purpose:
        print(p.label, vector(p))
