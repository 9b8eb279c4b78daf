"""The access log: every access decision on citizen data, in an append-only Merkle tree with signed checkpoints.

Modules, one per concept:
- ``records``: the records, written with a plain insert before the answer leaves;
- ``merkle``: RFC 9162 tree hashing and proofs (pure);
- ``tree``: the stored tree's nodes, and proofs from them;
- ``checkpoints``: C2SP signed-note checkpoints, signed with the checkpoint key (Ed25519);
- ``sequencer``: integrates records into the tree in batches, one leader at a time;
- ``access_log``: a citizen's log: pages, filters, grouped probes, inclusion proofs;
- ``verify``: the auditor's full check; ``proofs``: the citizen's verifier;
- ``legacy``: the first release's hash chain, checked when its entries moved into the tree.

See docs/audit.md.
"""

from __future__ import annotations

from auth.audit.checkpoints import AuditCheckpoint
from auth.audit.records import AuditRecord, Decision, Outcome, append
from auth.audit.tree import AuditNode

AuditEntry = AuditRecord  # the name the first release gave it

__models__ = [AuditRecord, AuditNode, AuditCheckpoint]
__all__ = ["AuditCheckpoint", "AuditEntry", "AuditNode", "AuditRecord", "Decision", "Outcome", "append"]
