"""Every key the hub holds, by purpose, in one format with one rotation story.

Each purpose has one setting (an environment variable) holding one key or several, comma-separated,
each ``KID:KEY`` where KEY is 32 bytes in base64url (``cardhub keys generate`` prints one). The first
key is current: it encrypts and signs. Every key listed is accepted: it decrypts and verifies. So a
rotation is the same three steps for every purpose:

1. put a new key first and keep the old one after it, on every instance;
2. re-seal what is stored under the old key (``cardhub secrets rotate``), or let what was issued
   under it expire;
3. drop the old key.

In sandbox mode a purpose with no key set gets a fixed, public sandbox key (kid ``sandbox``): it
protects nothing, and production refuses to start without real keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
SANDBOX_KID = "sandbox"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Purpose:
    name: str
    setting: str  # the Settings field; its environment variable is CARDHUB_<SETTING>
    protects: str
    required: bool = True  # outside sandbox mode, refuse to start without it (the hub may narrow this)

    @property
    def env(self) -> str:
        return f"CARDHUB_{self.setting.upper()}"


SECRETS = Purpose("secrets", "secrets_key", "agency credentials stored in connector manifests (AES-256-GCM)")
CACHE = Purpose(
    "cache", "cache_key", "the shared cache: card numbers in keys (HMAC) and sections in values (AES-256-GCM)"
)
# Signing keys (Ed25519, keys/signing.py): the same format, the key being the 32-byte seed.
CHECKPOINT = Purpose("checkpoint", "checkpoint_key", "signed checkpoints of the access log (Ed25519)")
CARD = Purpose("card", "card_key", "virtual card credentials shown to agency terminals (Ed25519)")
RECEIPTS = Purpose("receipts", "receipts_key", "consent receipts given to citizens (Ed25519 JWS)")
EVENTS = Purpose("events", "events_key", "security events pushed to apps and agencies (Ed25519 JWS)")
# HMAC (itsdangerous) over the citizen pages' cookie; production needs it once citizens log in there.
SESSION = Purpose("session", "session_secret", "the citizen pages' session cookie (HMAC-SHA256)", required=False)
PURPOSES: tuple[Purpose, ...] = (SECRETS, CACHE, CHECKPOINT, CARD, RECEIPTS, EVENTS, SESSION)


class KeySettingError(ValueError):
    """A key setting that cannot be used; the message names the setting, never the key."""


@dataclass(frozen=True, slots=True)
class Key:
    kid: str
    material: bytes

    def __repr__(self) -> str:  # never show the material
        return f"Key(kid={self.kid!r})"


@dataclass(frozen=True, slots=True)
class KeySet:
    """One purpose's keys, current first."""

    purpose: Purpose
    keys: tuple[Key, ...]

    @property
    def current(self) -> Key:
        return self.keys[0]

    @property
    def is_sandbox(self) -> bool:
        return self.current.kid == SANDBOX_KID

    def find(self, kid: str) -> Key | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def derive(self, label: str, key: Key | None = None) -> bytes:
        """A subkey for one use (HKDF-SHA256), so one key never serves two algorithms."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"cardhub {label}".encode())
        return hkdf.derive((key or self.current).material)

    @classmethod
    def parse(cls, purpose: Purpose, text: str) -> KeySet:
        keys: list[Key] = []
        for position, entry in enumerate(e.strip() for e in text.split(",") if e.strip()):
            kid, sep, encoded = entry.partition(":")
            if not sep:
                raise KeySettingError(
                    f"{purpose.env}: key {position + 1} is not KID:KEY (cardhub keys generate prints one)"
                )
            if not _KID.match(kid):
                raise KeySettingError(f"{purpose.env}: key id {position + 1} must be 1-32 letters, digits, - or _")
            keys.append(Key(kid, _decode(purpose, position, encoded)))
        if not keys:
            raise KeySettingError(f"{purpose.env}: no key given")
        if len({k.kid for k in keys}) != len(keys):
            raise KeySettingError(f"{purpose.env}: two keys have the same id")
        return cls(purpose, tuple(keys))

    @classmethod
    def sandbox(cls, purpose: Purpose) -> KeySet:
        material = hashlib.sha256(f"cardhub public sandbox key: {purpose.name}".encode()).digest()
        return cls(purpose, (Key(SANDBOX_KID, material),))

    @classmethod
    def ephemeral(cls, purpose: Purpose) -> KeySet:
        """A random key for this process only (tests, and caches that live in one process)."""
        return cls(purpose, (Key(secrets.token_hex(4), secrets.token_bytes(KEY_BYTES)),))


def _decode(purpose: Purpose, position: int, encoded: str) -> bytes:
    try:
        material = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise KeySettingError(f"{purpose.env}: key {position + 1} is not base64url") from None
    if len(material) != KEY_BYTES:
        raise KeySettingError(f"{purpose.env}: key {position + 1} must be {KEY_BYTES} bytes, not {len(material)}")
    return material


def generate(kid: str | None = None) -> str:
    """A new key entry, ``KID:KEY``, to put first in a key setting."""
    kid = kid or f"k{secrets.token_hex(3)}"
    if not _KID.match(kid):
        raise KeySettingError("a key id is 1-32 letters, digits, - or _")
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip('=')}"


@dataclass(frozen=True, slots=True)
class Keyring:
    """Every purpose's keys, read once at start from the settings."""

    sets: Mapping[str, KeySet]

    def __getitem__(self, purpose: Purpose) -> KeySet:
        return self.sets[purpose.name]

    @classmethod
    def load(cls, values: Mapping[str, str], *, sandbox: bool, required: Collection[Purpose] = PURPOSES) -> Keyring:
        """``values``: setting name -> text ("" when unset). An unset purpose gets the public sandbox key
        in sandbox mode; outside it, it is refused when ``required``, else it gets a key of this process
        only (a purpose whose data never leaves the process, such as an in-process cache)."""
        sets: dict[str, KeySet] = {}
        for purpose in PURPOSES:
            text = values.get(purpose.setting, "")
            if text:
                sets[purpose.name] = KeySet.parse(purpose, text)
            elif sandbox:
                sets[purpose.name] = KeySet.sandbox(purpose)
            elif purpose in required:
                raise KeySettingError(f"{purpose.env}: required in production ({purpose.protects})")
            else:
                sets[purpose.name] = KeySet.ephemeral(purpose)
        return cls(sets)

    @classmethod
    def ephemeral(cls) -> Keyring:
        return cls({p.name: KeySet.ephemeral(p) for p in PURPOSES})
