"""Consent receipts: one per history entry, each verifying under the published keys; a tampered one does not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import consent, jws, receipts
from auth.consent import Consent
from keys.keyring import RECEIPTS, KeySet

ALICE = "350200000001"
ISSUER = "https://hub.example"


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    models = ["auth.consent", "auth.events", "auth.clients", "auth.tokens", "auth.oauth.grants"]
    async with tortoise_test_context(models) as ctx:
        yield ctx


async def all_receipts(issuer: receipts.ReceiptIssuer, record: Consent) -> list[receipts.Receipt]:
    return await issuer.for_consent(await Consent.get(id=record.id), "City App")


async def test_every_change_yields_a_receipt_saying_who_what_when_and_until_when(db: TortoiseContext) -> None:
    issuer = receipts.ReceiptIssuer(KeySet.ephemeral(RECEIPTS), ISSUER)
    record = await consent.grant(ALICE, "app", frozenset({"transit", "library"}), "show your balance")
    await consent.pause(ALICE, record.id)
    await consent.resume(ALICE, record.id)
    await consent.revoke(ALICE, record.id, frozenset({"library"}))
    await consent.revoke(ALICE, record.id)
    issued = await all_receipts(issuer, record)
    assert [r.action for r in issued] == ["GRANTED", "PAUSED", "RESUMED", "NARROWED", "REVOKED"]
    claims = [receipts.verify(r.token, issuer.signer.public_keys(), ISSUER) for r in issued]
    first = claims[0]
    assert first["sub"] == ALICE and first["iss"] == ISSUER and first["jti"] == issued[0].receipt_id
    assert first["receipt"]["client_id"] == "app" and first["receipt"]["client_name"] == "City App"
    assert first["receipt"]["purpose"] == "show your balance"
    assert first["receipt"]["scopes"] == ["library", "transit"]
    assert first["receipt"]["until"] == int(record.expires_at.timestamp())
    assert [c["receipt"]["scopes"] for c in claims[3:]] == [["transit"], []]
    # The same entry always gives the same receipt.
    assert [r.token for r in await all_receipts(issuer, record)] == [r.token for r in issued]


async def test_a_tampered_receipt_or_one_from_another_hub_does_not_verify(db: TortoiseContext) -> None:
    issuer = receipts.ReceiptIssuer(KeySet.ephemeral(RECEIPTS), ISSUER)
    record = await consent.grant(ALICE, "app", frozenset({"transit"}), "show your balance")
    [receipt] = await all_receipts(issuer, record)
    head, _, signature = receipt.token.split(".")
    claims = receipts.verify(receipt.token, issuer.signer.public_keys())
    claims["receipt"]["scopes"] = ["transit", "health"]
    tampered = f"{head}.{jws.b64url(jws.canonical_json(claims))}.{signature}"
    with pytest.raises(receipts.ReceiptError, match="does not verify"):
        receipts.verify(tampered, issuer.signer.public_keys())
    other = receipts.ReceiptIssuer(KeySet.ephemeral(RECEIPTS), "https://other.example")
    with pytest.raises(receipts.ReceiptError, match="not among"):
        receipts.verify(receipt.token, other.signer.public_keys())
    with pytest.raises(receipts.ReceiptError, match="issued by"):
        receipts.verify(receipt.token, issuer.signer.public_keys(), "https://other.example")


async def test_a_citizen_finds_only_their_own_receipts(db: TortoiseContext) -> None:
    issuer = receipts.ReceiptIssuer(KeySet.ephemeral(RECEIPTS), ISSUER)
    record = await consent.grant(ALICE, "app", frozenset({"transit"}), "p")
    [receipt] = await all_receipts(issuer, record)
    entry = int(receipt.receipt_id.rsplit(":", 1)[1])
    assert (await issuer.find(ALICE, entry, {"app": "City App"})) == receipt
    assert await issuer.find("350200000002", entry, {}) is None
