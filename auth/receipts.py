"""Consent receipts: the citizen's durable, signed record of each thing they agreed to or changed.

One receipt per history entry of a consent (``auth/consent.py`` ``ConsentEvent``): grant, widening,
renewal, narrowing, pause, resume, withdrawal and expiry. It says who (the citizen's card number),
which client and purpose, which scopes, when, and until when, in the spirit of the Kantara Consent
Receipt and the notice of ISO/IEC 29184. It is a JWS (``auth/jws.py``, alg ``Ed25519``, ``typ``
``consent-receipt+jwt``) under the receipts key (``CARDHUB_RECEIPTS_KEY``), whose public keys are
published at ``JWKS_PATH``; ``cardhub consent receipt verify`` and anyone holding those keys can
check one without the hub.

A receipt's claims are fixed by its history entry (``iat`` is the entry's time, ``jti`` names the
entry), so the same receipt is issued every time it is asked for, until the key rotates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from auth import jws
from auth.consent import Consent, ConsentEvent
from keys.keyring import KeySet
from keys.signing import PublicKey, Signer

RECEIPT_TYPE = "consent-receipt+jwt"
VERSION = "cardhub-consent-receipt/1"
JWKS_PATH = "/.well-known/cardhub-receipt-keys"
SIGNING_LABEL = "consent receipt"


class ReceiptError(ValueError):
    """A receipt that does not verify, or is not a consent receipt."""


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_id: str
    action: str
    token: str  # the JWS compact serialization: what the citizen keeps


def jti_of(event_id: int) -> str:
    return f"urn:cardhub:consent-receipt:{event_id}"


class ReceiptIssuer:
    def __init__(self, keys: KeySet, issuer: str) -> None:
        self.issuer = issuer
        self.signer = Signer(keys, SIGNING_LABEL)

    def claims(self, consent: Consent, event: ConsentEvent, client_name: str) -> dict[str, Any]:
        at = int(event.at.timestamp())
        until = event.expires_at or consent.expires_at
        return {
            "iss": self.issuer,
            "jti": jti_of(event.id),
            "iat": at,
            "sub": consent.citizen,
            "receipt": {
                "version": VERSION,
                "action": event.action,
                "consent_id": str(consent.id),
                "client_id": consent.client_id,
                "client_name": client_name,
                "purpose": event.purpose or consent.purpose,
                "scopes": sorted(event.scope.split()),
                "at": at,
                "until": int(until.timestamp()),
            },
        }

    def issue(self, consent: Consent, event: ConsentEvent, client_name: str) -> Receipt:
        token = jws.sign(self.signer, self.claims(consent, event, client_name), RECEIPT_TYPE)
        return Receipt(jti_of(event.id), event.action, token)

    async def for_consent(self, consent: Consent, client_name: str) -> list[Receipt]:
        """Every receipt of one consent, oldest first."""
        history = await ConsentEvent.filter(consent_id=consent.id).order_by("id")
        return [self.issue(consent, e, client_name) for e in history]

    async def find(self, citizen: str, event_id: int, client_names: Mapping[str, str]) -> Receipt | None:
        """One receipt of the citizen's own; None for another citizen's or a missing one."""
        event = await ConsentEvent.get_or_none(id=event_id).prefetch_related("consent")
        if event is None or event.consent.citizen != citizen:
            return None
        consent = event.consent
        return self.issue(consent, event, client_names.get(consent.client_id, consent.client_id))

    def jwks(self) -> dict[str, Any]:
        return jws.jwks(self.signer)


def verify(token: str, keys: Iterable[PublicKey], issuer: str | None = None) -> dict[str, Any]:
    """The claims of a valid receipt; ReceiptError saying why not."""
    try:
        claims = jws.verify(token, list(keys), RECEIPT_TYPE)
    except jws.JWSError as exc:
        raise ReceiptError(str(exc)) from None
    body = claims.get("receipt")
    if not isinstance(body, dict) or body.get("version") != VERSION:
        raise ReceiptError("not a cardhub consent receipt")
    if issuer is not None and claims.get("iss") != issuer:
        raise ReceiptError(f"issued by {claims.get('iss')!r}, not {issuer!r}")
    return claims
