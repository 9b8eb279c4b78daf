"""The hash chain of the first release (``audit_log``), checked once more before its entries move into
the Merkle tree (migration 0004): ``hash = SHA-256(canonical [prev_hash, at_ms, request_id, client_id,
citizen, sections, outcome, reason])``, starting from 64 zeros."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS = "0" * 64


class BrokenChain(Exception):
    """The old chain does not hold; the message names the first entry that breaks it."""


def entry_hash(prev_hash: str, at_ms: int, request_id: str, client_id: str, citizen: str,
               sections: str, outcome: str, reason: str) -> str:  # fmt: skip
    canonical = json.dumps(
        [prev_hash, at_ms, request_id, client_id, citizen, sections, outcome, reason],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_chain(rows: Iterable[Mapping[str, Any]]) -> int:
    """Walk the chain in id order; returns how many entries hold, or raises BrokenChain naming the first."""
    prev, checked = GENESIS, 0
    for row in rows:
        if row["prev_hash"] != prev:
            raise BrokenChain(f"audit_log entry {row['id']} does not link to the entry before it")
        expected = entry_hash(
            row["prev_hash"], int(row["at_ms"]), row["request_id"], row["client_id"], row["citizen"],
            row["sections"], row["outcome"], row["reason"],
        )  # fmt: skip
        if row["hash"] != expected:
            raise BrokenChain(f"audit_log entry {row['id']}: its contents do not match its hash")
        prev, checked = row["hash"], checked + 1
    return checked
