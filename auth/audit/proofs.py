"""The citizen's verifier: checks access-log entries against a published checkpoint, without the hub.

Needs only this module's imports (the Merkle checks of RFC 9162 2.1.3.2 and the signed-note check),
the proof bundle the hub hands out (``me { accessLog { proof } }``, ``cardhub audit prove``) and the
log's verifier key, published at ``/.well-known/cardhub-audit-keys`` and by witnesses::

    from auth.audit.proofs import verify_entry
    checkpoint = verify_entry(bundle, ["hub.example/audit+1a2b3c4d+AQ..."])

``verify_entry`` returns the checkpoint the entry is in, or raises ``ProofError`` /
``CheckpointError`` saying what does not hold. To be sure the checkpoint is the one everyone else
sees, compare it with the one a witness keeps (``verify_consistency``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from auth.audit.checkpoints import Checkpoint, VerifierKey, parse_and_verify
from auth.audit.merkle import ProofError, leaf_hash, verify_inclusion
from auth.audit.records import canonical

__all__ = ["ProofError", "verify_entry"]


def verify_entry(bundle: Mapping[str, Any], verifier_keys: Iterable[str | VerifierKey]) -> Checkpoint:
    """Check that ``bundle["record"]`` is leaf ``leaf_index`` of the tree signed in ``bundle["checkpoint"]``."""
    keys = [k if isinstance(k, VerifierKey) else VerifierKey.parse(k) for k in verifier_keys]
    checkpoint = parse_and_verify(str(bundle["checkpoint"]), keys)
    if int(bundle["tree_size"]) != checkpoint.size:
        raise ProofError(f"the proof is for a tree of {bundle['tree_size']}, the checkpoint of {checkpoint.size}")
    try:
        path = [base64.b64decode(h, validate=True) for h in bundle["proof"]]
    except (binascii.Error, TypeError):
        raise ProofError("the proof's hashes are not base64") from None
    leaf = leaf_hash(canonical(dict(bundle["record"])))
    verify_inclusion(int(bundle["leaf_index"]), checkpoint.size, leaf, path, checkpoint.root)
    return checkpoint
