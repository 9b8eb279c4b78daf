"""``cardhub keys generate|list`` and ``cardhub secrets rotate``: the operator's side of keys/.

Every key setting takes ``KID:KEY[,KID:KEY...]``, the first current (docs/operations.md, "Keys").
``keys list`` shows which purposes have keys and their ids, never the keys themselves.
``secrets rotate`` re-seals every stored connector secret under the current ``secrets_key``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from connectors import versions
from connectors.policy import sealer_for
from hub import database
from hub.progress import progress
from hub.settings import Settings
from keys.keyring import PURPOSES, SECRETS, KeySettingError, generate
from keys.sealing import SealError


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="the hub's keys: generate one, list what is set")
    commands = keys.add_subparsers(dest="keys_command", required=True)
    gen = commands.add_parser("generate", help="print a new KID:KEY entry to put first in a key setting")
    gen.add_argument("--kid", help="the key id (default: a random one)")
    gen.set_defaults(handler=_generate, needs_settings=False)
    listing = commands.add_parser("list", help="each key setting: set or not, and its key ids (never the keys)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=_list)

    secrets = sub.add_parser("secrets", help="connector secrets stored in the database")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    rotate = secrets_commands.add_parser(
        "rotate", help="re-seal every stored connector secret under the current secrets_key (after a rotation)"
    )
    rotate.set_defaults(handler=_rotate)


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        print(generate(args.kid))
    except KeySettingError as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    keyring = settings.keyring()
    rows = []
    for purpose in PURPOSES:
        keys = keyring[purpose]
        configured = bool(getattr(settings, purpose.setting))
        source = "set" if configured else ("public sandbox key" if keys.is_sandbox else "this process only")
        rows.append({"purpose": purpose.name, "setting": purpose.env, "source": source,
                     "kids": [k.kid for k in keys.keys], "protects": purpose.protects})  # fmt: skip
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        kids = ", ".join(row["kids"])
        print(f"{row['purpose']:<9}{row['setting']:<22}{row['source']:<20}current {row['kids'][0]}; accepted {kids}")
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    sealer = sealer_for(settings.keyring()[SECRETS])

    async def run() -> tuple[int, int]:
        async with database.connected(settings.database_url):
            return await versions.reseal(sealer)

    try:
        with progress("re-sealing stored connector secrets"):
            resealed, total = asyncio.run(run())
    except SealError as exc:
        print(
            f"cardhub: a stored secret does not open with the listed keys ({exc}); nothing was changed", file=sys.stderr
        )
        return 1
    print(f"re-sealed {resealed} of {total} connector versions under key {sealer.kid}; the others already were")
    return 0
