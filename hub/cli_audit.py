"""``cardhub audit verify|checkpoint|prove|sequence``: the access log for auditors, witnesses and citizens.

- ``verify [--against FILE]`` recomputes the tree from the records and checks every checkpoint's
  signature and root; ``--against`` also a checkpoint kept elsewhere (a witness's copy). Names the
  first bad record or checkpoint and exits 1.
- ``checkpoint [--keys]`` prints the latest signed checkpoint (for a witness), or the verifier keys.
- ``prove --card N [--checkpoint FILE]`` proves each of a citizen's entries is in a checkpoint, with
  the citizen's own verifier (``auth.audit.proofs.verify_entry``); ``--json`` prints the proofs.
- ``sequence [--once]`` runs the sequencer in the foreground (a hub runs one by itself).
See docs/audit.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from auth.audit import access_log, sequencer
from auth.audit import verify as audit_verify
from auth.audit.checkpoints import AuditCheckpoint, CheckpointError, CheckpointSigner
from auth.audit.merkle import ProofError
from auth.audit.proofs import verify_entry
from auth.audit.records import AuditRecord
from hub import database
from hub.settings import Settings
from keys.keyring import CHECKPOINT


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the access log: a Merkle tree with signed checkpoints")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="recompute the tree, check every checkpoint; name the first fault")
    verify.add_argument("--against", metavar="FILE", help="also a checkpoint kept elsewhere (signed note)")
    verify.set_defaults(handler=_verify)
    checkpoint = commands.add_parser("checkpoint", help="print the latest signed checkpoint, for a witness")
    checkpoint.add_argument("--keys", action="store_true", help="print the verifier keys instead, one per line")
    checkpoint.set_defaults(handler=_checkpoint)
    prove = commands.add_parser("prove", help="prove a citizen's entries are in a signed checkpoint")
    prove.add_argument("--card", required=True, metavar="N", help="the citizen's card number")
    prove.add_argument("--checkpoint", metavar="FILE", help="against this checkpoint (default: the latest)")
    prove.add_argument("--json", action="store_true", help="print each entry's proof bundle, one per line")
    prove.set_defaults(handler=_prove)
    sequence = commands.add_parser("sequence", help="run the sequencer in the foreground")
    sequence.add_argument("--once", action="store_true", help="integrate what is waiting, then stop")
    sequence.set_defaults(handler=_sequence)


def signer_for(settings: Settings) -> CheckpointSigner:
    return CheckpointSigner.from_keys(settings.keyring()[CHECKPOINT], settings.issuer_url)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    signer = signer_for(settings)
    against = Path(args.against).read_text() if args.against else None

    async def run() -> audit_verify.Report:
        async with database.connected(settings.database_url):
            return await audit_verify.verify(signer.verifier_keys(), against)

    report = asyncio.run(run())
    if report.fault is not None:
        print(f"audit log broken: {report.fault} ({report.records} records before it hold)")
        return 1
    print(
        f"audit log intact: {report.records + report.pending} records ({report.pending} not yet in the tree), "
        f"{report.checkpoints} checkpoints"
    )
    return 0


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    signer = signer_for(settings)
    if args.keys:
        for key in signer.verifier_keys():
            print(f"{key.vkey}  # key id {key.kid}")
        return 0

    async def run() -> AuditCheckpoint | None:
        async with database.connected(settings.database_url):
            return await AuditCheckpoint.all().order_by("-tree_size").first()

    latest = asyncio.run(run())
    if latest is None:
        print("cardhub: no checkpoint yet: the log is empty", file=sys.stderr)
        return 1
    sys.stdout.write(latest.note)
    return 0


def _prove(args: argparse.Namespace, settings: Settings) -> int:
    signer = signer_for(settings)
    kept = Path(args.checkpoint).read_text() if args.checkpoint else None

    async def run() -> tuple[list[dict[str, Any]], int, AuditCheckpoint | None]:
        async with database.connected(settings.database_url):
            if kept is not None:
                size = signer.verify(kept).size
                checkpoint = await AuditCheckpoint.get_or_none(tree_size=size)
            else:
                checkpoint = await AuditCheckpoint.all().order_by("-tree_size").first()
            records = await AuditRecord.filter(citizen=args.card).order_by("id")
            bundles, waiting = [], 0
            for record in records:
                proof = await access_log.inclusion(record, checkpoint) if checkpoint else None
                if proof is None:
                    waiting += 1
                else:
                    bundles.append(proof.bundle() | ({"checkpoint": kept} if kept else {}))
            return bundles, waiting, checkpoint

    try:
        bundles, waiting, checkpoint = asyncio.run(run())
    except CheckpointError as exc:
        print(f"cardhub: --checkpoint: {exc}", file=sys.stderr)
        return 1
    if checkpoint is None:
        print("cardhub: no such checkpoint in this log" if kept else "cardhub: no checkpoint yet", file=sys.stderr)
        return 1
    keys = signer.verifier_keys()
    for bundle in bundles:
        try:
            verify_entry(bundle, keys)
        except (ProofError, CheckpointError) as exc:
            print(f"audit proof failed: record {bundle['record']['id']}: {exc}")
            return 1
        if args.json:
            print(json.dumps(bundle, ensure_ascii=False))
    if not args.json:
        print(
            f"{len(bundles)} entries of card {args.card} proved in the checkpoint of size {checkpoint.tree_size}"
            + (f"; {waiting} not in it yet" if waiting else "")
        )
    return 0


def _sequence(args: argparse.Namespace, settings: Settings) -> int:
    signer = signer_for(settings)

    async def run() -> None:
        async with database.connected(settings.database_url):
            if args.once:
                print(f"sequenced {await sequencer.catch_up(signer)} records", flush=True)
                return
            running = sequencer.Sequencer(signer)
            await running.run()

    asyncio.run(run())
    return 0
