"""Issuing credentials: the claims a purpose needs, signed under the current card key.

Signed with ``keys.signing.Signer`` under the ``card`` purpose (``CARDHUB_CARD_KEY``): the first key
signs, every key listed is published (``jwks``), so a credential signed just before a rotation still
verifies until its key is dropped (docs/operations.md, "Keys").

The card's pseudonym is HMAC-SHA256 over the purpose and the card number, under a key derived from
the current card key, cut to 16 bytes. It is the same for one card, one purpose and one key: a
terminal can tell "the same card again" (a gate's anti-passback) without the card number, and
terminals of two purposes cannot join their records by it. Rotating the card key changes every
pseudonym (deliberately: records kept by terminals do not link across key periods); the key id in
each credential says which period a pseudonym belongs to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auth.card import qr
from cardverify.format import CTI_BYTES, FIELDS, MAX_LIFETIME_SECONDS, PSEUDONYM_BYTES, Claims, Purpose, encode
from keys.keyring import KeySet
from keys.signing import Signer

SIGNING_LABEL = "card credential"
PSEUDONYM_LABEL = "card pseudonym"
JWKS_PATH = "/.well-known/cardhub-card-keys"


def audit_section(purpose: Purpose) -> str:
    """What the citizen's access log names: ``virtual_card.transit`` is "virtual card shown for transit"."""
    return f"virtual_card.{purpose.label}"


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    text: str  # what the QR code holds
    purpose: Purpose
    kid: str
    credential_id: str  # hex
    issued_at: datetime
    expires_at: datetime
    qr_version: int

    @property
    def payload_bytes(self) -> int:
        return len(self.text)

    def seconds_left(self, now: float | None = None) -> int:
        return max(0, int(self.expires_at.timestamp() - (time.time() if now is None else now)))

    def svg(self) -> str:
        return qr.svg(self.text)


# A fresh credential for (citizen, purpose): what the citizen pages are given (schema/card_credential.py).
ShowCard = Callable[[str, Purpose], Awaitable[IssuedCredential]]


class CardIssuer:
    def __init__(self, keys: KeySet, issuer: str, lifetime_seconds: int = MAX_LIFETIME_SECONDS) -> None:
        if not 0 < lifetime_seconds <= MAX_LIFETIME_SECONDS:
            raise ValueError(f"a card credential lives 1 to {MAX_LIFETIME_SECONDS} seconds")
        self.issuer = issuer
        self.lifetime = lifetime_seconds
        self.signer = Signer(keys, SIGNING_LABEL)
        self._pseudonym_key = keys.derive(PSEUDONYM_LABEL)

    @property
    def kid(self) -> str:
        return self.signer.kid

    def pseudonym(self, card_number: str, purpose: Purpose) -> bytes:
        message = f"{purpose.label}\x00{card_number}".encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).digest()[:PSEUDONYM_BYTES]

    def issue(
        self, purpose: Purpose, card_number: str, facts: Mapping[str, object], now: float | None = None
    ) -> IssuedCredential:
        """Sign ``facts`` (exactly the purpose's claims, cardverify.format.FIELDS) for ``card_number``."""
        wanted = {f.name for f in FIELDS[purpose]}
        if set(facts) != wanted:
            raise ValueError(f"a {purpose.label} credential carries exactly {sorted(wanted)}")
        issued = int(time.time() if now is None else now)
        cti = secrets.token_bytes(CTI_BYTES)
        claims = Claims(
            self.issuer, purpose, issued, issued + self.lifetime, cti, self.pseudonym(card_number, purpose), facts
        )
        text = encode(claims, self.kid, self.signer.sign)
        return IssuedCredential(
            text=text,
            purpose=purpose,
            kid=self.kid,
            credential_id=cti.hex(),
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(issued + self.lifetime, UTC),
            qr_version=qr.version(text),  # refuses one a gate's scanner could not read
        )

    def jwks(self) -> dict[str, Any]:
        """The published key set: every listed key, current first (RFC 7517 section 5)."""
        return {"issuer": self.issuer, "keys": [k.jwk() for k in self.signer.public_keys()]}
