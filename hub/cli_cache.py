"""``cardhub cache purge [--section S]``: drop cached sections on every hub instance.

The purge is recorded in the database, and each hub applies it at its next poll
(connector_poll_seconds); with a Redis cache (cache_url) the shared cache is purged at once as well.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from cache import purges
from connectors.domain import AGENCY_IDS
from hub import database
from hub.settings import Settings


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("cache", help="the section cache")
    commands = parser.add_subparsers(dest="cache_command", required=True)
    purge = commands.add_parser("purge", help="drop cached sections on every hub instance")
    purge.add_argument("--section", choices=AGENCY_IDS, help="only this section (default: all)")
    purge.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with database.connected(settings.database_url):
            await purges.request(args.section, "cli")
        from hub.app import build_cache  # the app's modules only for the commands that use them

        cache = build_cache(settings, settings.keyring())
        if cache is not None and cache.backend.name != "memory":
            if args.section:
                await cache.forget_section(args.section)
            else:
                await cache.purge()
            failed = cache.stats.backend_errors
            await cache.close()
            if failed:
                print("cardhub: the shared cache could not be reached; hubs apply the purge at their next poll",
                      file=sys.stderr)  # fmt: skip

    asyncio.run(run())
    what = f"the {args.section} section" if args.section else "every section"
    print(f"purged {what}: hub instances apply it within {settings.connector_poll_seconds:g}s")
    return 0
