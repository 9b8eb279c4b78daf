"""Sealed values: open under any listed key, bound to their context, refused when touched."""

from __future__ import annotations

import pytest

from keys.keyring import SECRETS, KeySet, generate
from keys.sealing import Sealer, SealError, is_sealed

OLD, NEW = generate("old"), generate("new")


def sealer(text: str) -> Sealer:
    return Sealer(KeySet.parse(SECRETS, text), "tests")


def test_a_sealed_value_opens_only_in_its_own_context() -> None:
    s = sealer(OLD)
    sealed = s.seal(b"api-key-of-health", b"connector secret:health")
    assert is_sealed(sealed) and "api-key-of-health" not in sealed
    assert s.open(sealed, b"connector secret:health") == b"api-key-of-health"
    with pytest.raises(SealError):
        s.open(sealed, b"connector secret:library")  # moved to another agency's row


def test_rotation_opens_the_old_and_seals_under_the_new() -> None:
    before = sealer(OLD).seal(b"s", b"c")
    rotated = sealer(f"{NEW},{OLD}")
    assert rotated.open(before, b"c") == b"s"
    assert not rotated.is_current(before)
    after = rotated.seal(b"s", b"c")
    assert rotated.is_current(after) and Sealer.key_of(after) == "new"
    with pytest.raises(SealError, match="not among"):
        sealer(NEW).open(before, b"c")  # the old key dropped too early: a clear refusal


@pytest.mark.parametrize("position", [12, 20, 40, -3])
def test_any_flipped_character_is_refused(position: int) -> None:
    s = sealer(OLD)
    sealed = s.seal(b"secret value", b"c")
    flipped = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
    with pytest.raises(SealError):
        s.open(flipped, b"c")


@pytest.mark.parametrize("junk", ["", "plain", "sealed.v1.", "sealed.v1.old", "sealed.v1.old.%%%", "sealed.v1.old.AA"])
def test_junk_is_refused_with_a_seal_error(junk: str) -> None:
    with pytest.raises(SealError):
        sealer(OLD).open(junk, b"c")
