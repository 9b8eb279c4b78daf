"""Key settings: one format for every purpose, clear refusals, and the sandbox's public keys."""

from __future__ import annotations

import pytest

from keys.keyring import CACHE, PURPOSES, SANDBOX_KID, SECRETS, Keyring, KeySet, KeySettingError, generate


def test_the_first_key_is_current_and_every_key_is_found() -> None:
    new, old = generate("k2"), generate("k1")
    keys = KeySet.parse(SECRETS, f"{new}, {old}")
    assert keys.current.kid == "k2"
    assert [k.kid for k in keys.keys] == ["k2", "k1"]
    assert keys.find("k1") is not None and keys.find("k3") is None
    assert "material" not in repr(keys.current) and new.split(":")[1] not in repr(keys)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no key given"),
        ("justakey", "is not KID:KEY"),
        ("bad kid!:AAAA", "key id 1"),
        ("k1:not*base64", "not base64url"),
        ("k1:AAAA", "must be 32 bytes"),
    ],
)
def test_a_bad_setting_names_the_setting_and_never_echoes_the_key(text: str, reason: str) -> None:
    with pytest.raises(KeySettingError, match=reason) as caught:
        KeySet.parse(SECRETS, text)
    assert "CARDHUB_SECRETS_KEY" in str(caught.value)


def test_two_keys_with_one_id_are_refused() -> None:
    entry = generate("same")
    with pytest.raises(KeySettingError, match="same id"):
        KeySet.parse(CACHE, f"{entry},{generate('same')}")


def test_production_refuses_a_missing_required_key_and_sandbox_gets_public_ones() -> None:
    with pytest.raises(KeySettingError, match="CARDHUB_SECRETS_KEY: required in production"):
        Keyring.load({}, sandbox=False)
    sandbox = Keyring.load({}, sandbox=True)
    assert all(sandbox[p].current.kid == SANDBOX_KID for p in PURPOSES)
    assert Keyring.load({}, sandbox=True)[SECRETS].current == sandbox[SECRETS].current  # the same each time
    # A purpose production does not require (the cache, when it stays in process) gets a key of its own.
    only_secrets = Keyring.load({"secrets_key": generate("s1")}, sandbox=False, required=(SECRETS,))
    assert only_secrets[CACHE].current.kid != SANDBOX_KID


def test_subkeys_differ_by_label_and_by_key() -> None:
    keys = KeySet.parse(CACHE, f"{generate('a')},{generate('b')}")
    assert keys.derive("one") != keys.derive("two")
    assert keys.derive("one") != keys.derive("one", keys.keys[1])
    assert len(keys.derive("one")) == 32
