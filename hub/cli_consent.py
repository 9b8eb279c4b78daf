"""``cardhub consent ...`` and ``cardhub clients events``: citizens' consents, their receipts, and
where clients get told of changes.

- ``consent grant``: record a persona's consent (sandbox stand-in for the consent screen).
- ``consent receipt verify FILE|-``: check a consent receipt's signature and print what it says. With
  ``--keys FILE`` (the JWKS published at ``/.well-known/cardhub-receipt-keys``) it needs nothing of the
  hub; without, it uses this hub's receipts key setting. Exit 0 valid, 1 not valid (why is printed).
- ``clients events --client ID [--push URL | --poll | --off]``: register the client's event stream
  (no option: show it). A push URL is checked against the outbound policy, like an agency's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auth import jws, receipts, scopes
from hub import database
from hub.settings import Settings
from keys.keyring import RECEIPTS


class UsageError(Exception):
    """Reported by hub.cli as a usage error (exit 2)."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("consent", help="citizens' consents and their receipts")
    commands = parser.add_subparsers(dest="consent_command", required=True)
    grant = commands.add_parser("grant", help="record a persona's consent for a client (sandbox mode only)")
    grant.add_argument("--persona", required=True, metavar="CARD_NUMBER", help="the citizen who consents")
    grant.add_argument("--client", required=True, metavar="CLIENT_ID", help="the client consented to")
    grant.add_argument("--scope", action="append", metavar="S", help="repeatable; default: all the client may ask")
    grant.set_defaults(handler=_grant, default_mode="sandbox")

    receipt = commands.add_parser("receipt", help="consent receipts")
    receipt_commands = receipt.add_subparsers(dest="receipt_command", required=True)
    verify = receipt_commands.add_parser("verify", help="check a consent receipt's signature; print its content")
    verify.add_argument("file", metavar="FILE", help="the receipt (a JWS), or - for standard input")
    verify.add_argument("--keys", metavar="JWKS_FILE", help="the published receipt keys (default: this hub's)")
    verify.add_argument("--issuer", help="the hub that must have issued it (default: with --keys, any)")
    verify.set_defaults(handler=_verify)


def add_events_command(commands: Any) -> None:
    """``cardhub clients events``: registered by hub/cli_clients.py."""
    command = commands.add_parser("events", help="where the hub sends a client's security events (RFC 8417)")
    command.add_argument("--client", required=True, metavar="CLIENT_ID", help="the client's id")
    how = command.add_mutually_exclusive_group()
    how.add_argument("--push", metavar="URL", help="push them to this https endpoint (RFC 8935)")
    how.add_argument("--poll", action="store_true", help="no push: the client polls /events/poll (RFC 8936)")
    how.add_argument("--off", action="store_true", help="stop recording events for the client")
    command.set_defaults(handler=_events)


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.is_sandbox:
        raise UsageError("cardhub consent grant works in sandbox mode only: citizens consent on the consent screen")
    from auth import clients, consent
    from auth.registry import find_citizen
    from hub.sandbox_seed import seed_registry

    async def run() -> consent.Consent:
        async with database.connected(settings.database_url):
            await seed_registry()
            client = await clients.find(args.client)
            if client is None:
                raise UsageError(f"no client {args.client!r}; register it with cardhub clients create")
            if await find_citizen(args.persona) is None:
                raise UsageError(f"no persona with card number {args.persona!r}; see: cardhub sandbox personas")
            wanted = scopes.parse(args.scope) if args.scope else client.scopes
            if wanted - client.scopes:
                raise UsageError(f"client {client.client_id} may not ask for {sorted(wanted - client.scopes)}")
            return await consent.grant(args.persona, client.client_id, wanted, client.purpose)

    granted = asyncio.run(run())
    until = f"{granted.expires_at:%Y-%m-%d}"
    print(f"consent {granted.id}: {args.persona} allows {args.client}: {granted.scope} until {until}")
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    token = (sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")).strip()
    if args.keys:
        try:
            keys = jws.keys_from_jwks(json.loads(Path(args.keys).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--keys: not a JWKS file ({exc})") from None
        issuer = args.issuer
    else:
        issuer = args.issuer or settings.issuer_url
        keys = receipts.ReceiptIssuer(settings.keyring()[RECEIPTS], issuer).signer.public_keys()
    try:
        claims = receipts.verify(token, keys, issuer)
    except receipts.ReceiptError as exc:
        print(f"receipt NOT valid: {exc}")
        return 1
    body = claims["receipt"]
    print(f"receipt valid: {claims['jti']} issued by {claims['iss']}, key {jws.header_of(token)['kid']}")
    print(f"  {body['action']} at {_when(body['at'])}: citizen {claims['sub']} and {body['client_name']} "
          f"({body['client_id']})")  # fmt: skip
    print(f"  purpose: {body['purpose']}")
    print(f"  scopes: {' '.join(body['scopes']) or '(none)'} until {_when(body['until'])}")
    return 0


def _events(args: argparse.Namespace, settings: Settings) -> int:
    from auth import clients, events

    async def run() -> str:
        async with database.connected(settings.database_url):
            if await clients.find(args.client) is None:
                raise UsageError(f"no client {args.client!r}")
            if args.off:
                removed = await events.unregister(args.client)
                return f"client {args.client}: events {'off' if removed else 'were not on'}"
            if args.push is not None or args.poll:
                try:
                    await events.register(args.client, args.push or "", settings.outbound)
                except events.EventStreamError as exc:
                    raise UsageError(str(exc)) from None
            stream = await events.stream_of(args.client)
            if stream is None:
                return f"client {args.client}: no event stream (--push URL or --poll)"
            waiting = len(await events.pending(args.client, events.MAX_POLL))
            where = f"push to {stream.push_url}" if stream.push_url else "poll at /events/poll"
            error = f"; last error: {stream.last_error}" if stream.last_error else ""
            return f"client {args.client}: {where}, {stream.state.value}, {waiting} undelivered{error}"

    print(asyncio.run(run()))
    return 0


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
