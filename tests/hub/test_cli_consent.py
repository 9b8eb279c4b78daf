"""``cardhub consent receipt verify``: a receipt verifies with the hub's keys or its published key set;
a tampered one does not (exit 1)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import consent, jws, receipts
from hub import cli
from keys.keyring import RECEIPTS, KeySet

ISSUER = "https://hub.example"


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    async with tortoise_test_context(["auth.consent", "auth.events", "auth.clients", "auth.tokens",
                                      "auth.oauth.grants"]) as ctx:  # fmt: skip
        yield ctx


async def test_a_receipt_verifies_offline_and_a_tampered_one_does_not(
    db: TortoiseContext, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = receipts.ReceiptIssuer(KeySet.ephemeral(RECEIPTS), ISSUER)
    record = await consent.grant("350200000001", "app", frozenset({"transit"}), "show your balance")
    [receipt] = await issuer.for_consent(record, "City App")
    keys, good, bad = tmp_path / "keys.json", tmp_path / "good.jwt", tmp_path / "bad.jwt"
    keys.write_text(json.dumps(issuer.jwks()))
    good.write_text(receipt.token + "\n")
    head, payload, signature = receipt.token.split(".")
    claims = json.loads(jws.unb64url(payload))
    claims["receipt"]["until"] += 365 * 86400  # a year longer than the citizen agreed
    bad.write_text(f"{head}.{jws.b64url(jws.canonical_json(claims))}.{signature}")

    assert cli.main(["consent", "receipt", "verify", str(good), "--keys", str(keys), "--issuer", ISSUER]) == 0
    shown = capsys.readouterr().out
    assert "receipt valid" in shown and "GRANTED" in shown and "City App (app)" in shown and "transit" in shown
    assert cli.main(["consent", "receipt", "verify", str(bad), "--keys", str(keys)]) == 1
    assert "NOT valid: the signature does not verify" in capsys.readouterr().out
    assert cli.main(["consent", "receipt", "verify", str(good), "--keys", str(keys), "--issuer", "https://x"]) == 1
