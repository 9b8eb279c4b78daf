"""The documented receiver (docs/examples/event_receiver.py) accepts the hub's events and rejects
forged and replayed ones."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auth import events, jws
from auth.events import ConsentChange, SecurityEvent
from keys.keyring import EVENTS, KeySet

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "event_receiver.py"
HUB = "https://hub.example"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("event_receiver", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pushed(signer: events.EventSigner, audience: str = "bus-app", at: datetime | None = None) -> str:
    change = ConsentChange("bus-app", "350200000001", 7, "PAUSED", "PAUSED", frozenset({"transit"}), frozenset(),
                           at or datetime.now(UTC), datetime(2027, 6, 1, tzinfo=UTC))  # fmt: skip
    claims = events.set_claims(change, "a" * 32)
    claims["aud"] = audience
    return signer.sign(SecurityEvent(client_id="bus-app", jti=claims["jti"], claims=json.dumps(claims)))


def receiver(example: ModuleType, signer: events.EventSigner) -> object:
    verifier = example.Verifier(HUB, "bus-app", sqlite3.connect(":memory:"))
    verifier.keys = {k.kid: Ed25519PublicKey.from_public_bytes(k.raw) for k in signer.signer.public_keys()}
    return verifier


def test_a_genuine_event_is_accepted_once_and_its_replay_is_not_processed(example: ModuleType) -> None:
    signer = events.EventSigner(KeySet.ephemeral(EVENTS), HUB)
    verifier = receiver(example, signer)
    token = pushed(signer)
    claims = verifier.verify(token)  # type: ignore[attr-defined]
    assert claims["events"][events.CONSENT_EVENT]["consent_status_notification"] == {
        "consent_id": "7", "consent_status": "PAUSED"
    }  # fmt: skip
    with pytest.raises(example.Replayed):
        verifier.verify(token)  # type: ignore[attr-defined]


def test_forged_events_are_rejected_with_their_rfc_8935_error(example: ModuleType) -> None:
    signer = events.EventSigner(KeySet.ephemeral(EVENTS), HUB)
    verifier = receiver(example, signer)
    head, payload, signature = pushed(signer).split(".")
    claims = json.loads(jws.unb64url(payload))
    claims["events"][events.CONSENT_EVENT]["consent_status_notification"]["consent_status"] = "ACTIVE"
    altered = f"{head}.{jws.b64url(jws.canonical_json(claims))}.{signature}"
    other_hub = events.EventSigner(KeySet.ephemeral(EVENTS), HUB)
    verifier.keys.update(receiver(example, other_hub).keys)  # type: ignore[attr-defined]
    old = datetime(2020, 1, 1, tzinfo=UTC)
    for token, err in (
        (altered, "invalid_key"),
        (pushed(signer, audience="another-app"), "invalid_audience"),
        (pushed(events.EventSigner(other_hub.signer.keys, "https://evil.example")), "invalid_issuer"),
        (pushed(signer, at=old), "invalid_request"),
        ("not.a.jws", "invalid_request"),
    ):
        with pytest.raises(example.Rejected) as caught:
            verifier.verify(token)  # type: ignore[attr-defined]
        assert caught.value.err == err
