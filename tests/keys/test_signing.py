"""Signatures under a purpose's keys: rotation keeps old signatures verifying while their key is listed."""

from __future__ import annotations

import pytest

from keys.keyring import CHECKPOINT, KeySet, generate
from keys.signing import SignatureError, Signer, verify_with

OLD, NEW = generate("old"), generate("new")


def test_sign_verify_and_publish() -> None:
    signer = Signer(KeySet.parse(CHECKPOINT, OLD), "tests")
    signature = signer.sign(b"tree size 5")
    signer.verify("old", b"tree size 5", signature)
    (public,) = signer.public_keys()
    assert public.kid == "old" and verify_with(public, b"tree size 5", signature)
    assert not verify_with(public, b"tree size 6", signature)
    assert public.jwk()["crv"] == "Ed25519" and "d" not in public.jwk()
    with pytest.raises(SignatureError, match="does not verify"):
        signer.verify("old", b"tree size 6", signature)


def test_a_rotation_keeps_old_signatures_until_the_old_key_goes() -> None:
    before = Signer(KeySet.parse(CHECKPOINT, OLD), "tests").sign(b"m")
    rotated = Signer(KeySet.parse(CHECKPOINT, f"{NEW},{OLD}"), "tests")
    rotated.verify("old", b"m", before)
    assert rotated.kid == "new" and [k.kid for k in rotated.public_keys()] == ["new", "old"]
    with pytest.raises(SignatureError, match="not among"):
        Signer(KeySet.parse(CHECKPOINT, NEW), "tests").verify("old", b"m", before)


def test_labels_separate_uses_of_one_key() -> None:
    keys = KeySet.parse(CHECKPOINT, OLD)
    one, other = Signer(keys, "checkpoints"), Signer(keys, "receipts")
    assert one.public_keys()[0].raw != other.public_keys()[0].raw
