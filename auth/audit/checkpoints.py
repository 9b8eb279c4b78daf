"""Signed checkpoints of the access log: C2SP tlog-checkpoint text in a C2SP signed note, Ed25519.

A checkpoint (https://c2sp.org/tlog-checkpoint) is three lines: the log's origin, the tree size in
decimal, and the root hash in base64. The signed note (https://c2sp.org/signed-note) follows it with
an empty line and one signature line per key: ``— <key name> <base64(key hash || signature)>``,
where the key hash is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 || public key) and the
signature is Ed25519 over the checkpoint text, final newline included. The key name is the origin,
so a witness that knows the log's verifier key (``<name>+<hex key hash>+<base64(0x01 || key)>``)
checks a checkpoint without the hub. Each stored checkpoint also records the id of the key it was
signed with (``key_id``): after a rotation, old checkpoints verify as long as their key stays listed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tortoise import fields
from tortoise.models import Model

from keys.keyring import KeySet
from keys.signing import PublicKey, Signer

ED25519 = b"\x01"  # the signed-note signature type of Ed25519
DASH = "\u2014"  # "—", EM DASH, which starts every signature line


class CheckpointError(ValueError):
    """A checkpoint or note that is malformed, or whose signature does not verify."""


class AuditCheckpoint(Model):
    id = fields.BigIntField(primary_key=True)
    tree_size = fields.BigIntField(unique=True)
    root = fields.BinaryField()  # 32 bytes
    at_ms = fields.BigIntField()
    key_id = fields.CharField(max_length=32)
    note = fields.TextField()  # the signed note, as published

    class Meta:
        table = "audit_checkpoint"


def origin_for(issuer_url: str) -> str:
    """The log's name: the hub's host name and ``/audit`` (C2SP: a schema-less URL)."""
    return f"{urlsplit(issuer_url).hostname or issuer_url}/audit"


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key as a note verifier: its name, key hash and key; ``kid`` names it in the keyring."""

    name: str
    raw: bytes
    kid: str = ""

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n" + ED25519 + self.raw).digest()[:4]

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(ED25519 + self.raw).decode()}"

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        try:
            name, hash_hex, encoded = vkey.strip().split("+", 2)  # base64 may hold "+"; a name may not
            key = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("a verifier key is <name>+<hex key hash>+<base64 key>") from None
        if key[:1] != ED25519 or len(key) != 33:
            raise CheckpointError("only Ed25519 verifier keys are supported")
        parsed = cls(name, key[1:])
        if parsed.key_hash.hex() != hash_hex:
            raise CheckpointError(f"verifier key {name}: the key hash does not match the key")
        return parsed

    def verify(self, message: bytes, signature: bytes) -> bool:
        from keys.signing import verify_with

        return verify_with(PublicKey(self.kid, self.raw), message, signature)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the checkpoint body, signed
    key: VerifierKey  # the key whose signature verified

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode()


def body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_and_verify(note: str, keys: Iterable[VerifierKey], *, any_name: bool = False) -> Checkpoint:
    """The checkpoint of ``note`` if one of its signatures is by one of ``keys``; CheckpointError if not.

    ``any_name``: match the keys under whatever name the note gives (the hub checking its own
    checkpoints after its origin changed); a witness or citizen matches name and key together."""
    keys = list(keys)
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise CheckpointError("not a signed note: no empty line before the signatures")
    text += "\n"
    lines = text.split("\n")
    if len(lines) < 4:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise CheckpointError("the root hash is not base64") from None
    if len(root) != 32:
        raise CheckpointError("the root hash is not 32 bytes")
    by_hash = {(k.name, k.key_hash): k for k in keys}
    for line in signatures.rstrip("\n").split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.rpartition(" ")
        if dash != DASH or not name:
            raise CheckpointError("a signature line is not '— <name> <signature>'")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError("a signature is not base64") from None
        if any_name:
            by_hash |= {(name, k.key_hash): k for k in (VerifierKey(name, k.raw, k.kid) for k in keys)}
        key = by_hash.get((name, blob[:4]))
        if key is not None and key.verify(text.encode(), blob[4:]):
            return Checkpoint(origin, int(size_text), root, text, key)
        if key is not None:
            raise CheckpointError(f"the signature of {name} (key {key.kid or blob[:4].hex()}) does not verify")
    raise CheckpointError("signed by no key this verifier knows")


class CheckpointSigner:
    """Signs checkpoints with the current checkpoint key; lists every listed key for verifiers."""

    def __init__(self, signer: Signer, origin: str) -> None:
        self.signer = signer
        self.origin = origin

    @property
    def kid(self) -> str:
        return self.signer.kid

    def sign(self, size: int, root: bytes) -> str:
        text = body(self.origin, size, root)
        current = self.verifier_keys()[0]
        blob = current.key_hash + self.signer.sign(text.encode())
        return f"{text}\n{DASH} {self.origin} {base64.b64encode(blob).decode()}\n"

    def verifier_keys(self) -> list[VerifierKey]:
        """Every listed key, current first: publish all of them, so old checkpoints still verify."""
        return [VerifierKey(self.origin, k.raw, k.kid) for k in self.signer.public_keys()]

    def verify(self, note: str, also: Sequence[VerifierKey] = ()) -> Checkpoint:
        return parse_and_verify(note, [*self.verifier_keys(), *also], any_name=True)

    @classmethod
    def from_keys(cls, keys: KeySet, issuer_url: str) -> CheckpointSigner:
        """The hub's checkpoint signer: the CHECKPOINT purpose's keys, the log named after the issuer."""
        return cls(Signer(keys, "checkpoint"), origin_for(issuer_url))


async def latest() -> AuditCheckpoint | None:
    return await AuditCheckpoint.all().order_by("-tree_size").first()


async def at_size(size: int) -> AuditCheckpoint | None:
    return await AuditCheckpoint.get_or_none(tree_size=size)


class CheckpointKeyError(Exception):
    """The checkpoint keys cannot verify the log's latest checkpoint: a wrong key, or the old one dropped."""


async def check_key(signer: CheckpointSigner, env: str) -> None:
    """Refuse a checkpoint key under which the log's own latest checkpoint does not verify: signing on
    with it would leave a log nobody can check across the change (docs/audit.md, "Keys")."""
    head = await latest()
    if head is None:
        return
    try:
        signer.verify(head.note)
    except CheckpointError:
        raise CheckpointKeyError(
            f"{env}: the access log's latest checkpoint (tree size {head.tree_size}, key id {head.key_id!r}) "
            "verifies with none of these keys: a wrong key, or the previous one dropped before a new "
            "checkpoint was signed. List the key it was signed with after the new one"
        ) from None
