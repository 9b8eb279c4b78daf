"""The virtual card credential as the citizen's app receives it (docs/virtual-card.md)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from auth.card.issuer import IssuedCredential
from cardverify.format import Purpose


@strawberry.enum(description="What the credential is shown for; each carries only the claims its terminal needs.")
class CardPurpose(enum.Enum):
    TRANSIT = "TRANSIT"  # card valid, concession category
    LIBRARY = "LIBRARY"  # patron valid, borrowing blocked
    CLINIC = "CLINIC"  # health card number, registered clinic
    IDENTITY = "IDENTITY"  # name, card number

    @property
    def purpose(self) -> Purpose:
        return Purpose[self.name]


@strawberry.type(description="A short-lived signed credential for the virtual card's QR code.")
class CardCredential:
    _issued: strawberry.Private[IssuedCredential]
    purpose: CardPurpose
    text: str = strawberry.field(description="What the QR code holds: `CC1:` and base45 (docs/virtual-card.md).")
    key_id: str = strawberry.field(description="The card key that signed it (published at the well-known key set).")
    issued_at: datetime
    expires_at: datetime = strawberry.field(description="Refresh before this: terminals refuse it from then on.")
    qr_version: int = strawberry.field(description="The QR code's version at error correction level M (at most 12).")

    @strawberry.field(description="Seconds until expiresAt, as of this answer.")
    def valid_for_seconds(self) -> int:
        return self._issued.seconds_left()

    @strawberry.field(description="The QR code as an SVG document, ready to show (a quiet zone of 4 modules).")
    def svg(self) -> str:
        return self._issued.svg()

    @classmethod
    def from_issued(cls, issued: IssuedCredential) -> CardCredential:
        return cls(
            _issued=issued,
            purpose=CardPurpose[issued.purpose.name],
            text=issued.text,
            key_id=issued.kid,
            issued_at=issued.issued_at,
            expires_at=issued.expires_at,
            qr_version=issued.qr_version,
        )
