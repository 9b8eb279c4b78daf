"""``cardhub citizens link|unlink|links``: which card each subject of the city's identity provider holds.

For a provider that does not put the card number in a claim (``oidc_card_claim``): the citizen card
centre links each subject (the ID token's ``sub``) to a card in the registry. A card the registry does
not hold is refused when the link is made. Links are per provider (``oidc_issuer``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from auth.oidc import links
from hub import database
from hub.settings import Settings


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("citizens", help="link subjects of the city's identity provider to cards")
    commands = parser.add_subparsers(dest="citizens_command", required=True)
    link = commands.add_parser("link", help="link a subject (the provider's sub) to a card in the registry")
    link.add_argument("subject", metavar="SUB", help="the OpenID Provider's subject")
    link.add_argument("card", metavar="CARD", help="the citizen card number")
    link.set_defaults(handler=_link)
    unlink = commands.add_parser("unlink", help="remove a subject's link: it logs no one in any more")
    unlink.add_argument("subject", metavar="SUB", help="the OpenID Provider's subject")
    unlink.set_defaults(handler=_unlink)
    listing = commands.add_parser("links", help="every link for the configured provider")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=_links)


def _issuer(settings: Settings) -> str | None:
    if not settings.oidc_issuer:
        print("cardhub: oidc_issuer is not set (CARDHUB_OIDC_ISSUER): links belong to a provider", file=sys.stderr)
        return None
    return settings.oidc_issuer.rstrip("/")


def _link(args: argparse.Namespace, settings: Settings) -> int:
    issuer = _issuer(settings)
    if issuer is None:
        return 2

    async def run() -> None:
        async with database.connected(settings.database_url):
            await links.link(issuer, args.subject, args.card)

    try:
        asyncio.run(run())
    except (links.UnknownCard, ValueError) as exc:
        print(f"cardhub: refused: {exc}", file=sys.stderr)
        return 1
    print(f"linked {args.subject} at {issuer} to card {args.card}")
    return 0


def _unlink(args: argparse.Namespace, settings: Settings) -> int:
    issuer = _issuer(settings)
    if issuer is None:
        return 2

    async def run() -> bool:
        async with database.connected(settings.database_url):
            return await links.unlink(issuer, args.subject)

    if not asyncio.run(run()):
        print(f"cardhub: {args.subject} is not linked at {issuer}", file=sys.stderr)
        return 1
    print(f"unlinked {args.subject} at {issuer}")
    return 0


def _links(args: argparse.Namespace, settings: Settings) -> int:
    issuer = _issuer(settings)
    if issuer is None:
        return 2

    async def run() -> list[links.CitizenLink]:
        async with database.connected(settings.database_url):
            return await links.linked(issuer)

    found = asyncio.run(run())
    if args.json:
        rows = [{"subject": x.subject, "card": x.card_number, "linkedAt": x.linked_at.isoformat()} for x in found]
        print(json.dumps({"issuer": issuer, "links": rows}, indent=2))
        return 0
    for x in found:
        print(f"{x.subject}  {x.card_number}  since {x.linked_at:%Y-%m-%d}")
    return 0
