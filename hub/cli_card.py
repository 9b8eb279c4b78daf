"""``cardhub card``: the virtual card from a terminal's side, and the operator's card status.

``card verify`` checks a credential offline (from its text or a QR image) against a stored key set;
``card keys fetch`` stores the hub's published key set for that; ``card status CARD lost`` stops new
credentials for a card (those already out expire within their lifetime).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auth.card.errors import CardStatusError
from auth.card.issuer import JWKS_PATH
from auth.card.status import WORDS, set_status
from cardverify import KeySetError, PublicKeys, Verified, verify
from cardverify.format import Purpose
from hub import database
from hub.settings import Settings

MAX_KEY_SET_BYTES = 65_536


class CardCommandError(Exception):
    pass


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("card", help="the virtual card: verify a credential, fetch the keys, a card's status")
    commands = parser.add_subparsers(dest="card_command", required=True)

    check = commands.add_parser("verify", help="verify a credential offline; exit 0 verified, 1 refused")
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the QR code's text (CC1:...); - reads it from standard input")
    source.add_argument("--image", type=Path, help="a PNG or JPEG of the QR code (needs the terminal extra)")
    check.add_argument("--keys", type=Path, required=True, help="the key set stored by: cardhub card keys fetch")
    check.add_argument("--purpose", required=True, choices=[p.label for p in Purpose], help="what the terminal checks")
    check.add_argument("--at", type=float, help="unix time to check against (default: now)")
    check.set_defaults(handler=_verify, needs_settings=False)

    keys = commands.add_parser("keys", help="the hub's published card keys").add_subparsers(
        dest="card_keys_command", required=True
    )
    fetch = keys.add_parser("fetch", help="store the hub's key set for offline verification")
    fetch.add_argument("url", help=f"the hub's URL (https://hub.example) or the key set's ({JWKS_PATH})")
    fetch.add_argument("--out", type=Path, required=True, help="where to store it (replaced whole, atomically)")
    fetch.set_defaults(handler=_fetch, needs_settings=False)

    status = commands.add_parser("status", help="report a card lost or cancelled, or active again")
    status.add_argument("card_number", help="the citizen card's number")
    status.add_argument("status", choices=list(WORDS), help="the card's new status")
    status.set_defaults(handler=_status)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        keys = PublicKeys.from_jwks(args.keys.read_bytes())
        text = _image_text(args.image) if args.image else sys.stdin.read().strip() if args.text == "-" else args.text
    except (OSError, KeySetError, CardCommandError) as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2
    answer = verify(text, keys, args.purpose, time.time() if args.at is None else args.at)
    if isinstance(answer, Verified):
        claims = answer.claims
        shown: dict[str, Any] = {
            "verified": True,
            "purpose": claims.purpose.label,
            "issuer": claims.issuer,
            "kid": answer.kid,
            "issued_at": claims.issued_at,
            "expires_at": claims.expires_at,
            "credential_id": claims.credential_id.hex(),
            "pseudonym": claims.pseudonym.hex(),
            **claims.facts,
        }
        print(json.dumps(shown, ensure_ascii=False))
        return 0
    print(json.dumps({"verified": False, "code": answer.code, "reason": answer.reason}, ensure_ascii=False))
    return 1


def _image_text(path: Path) -> str:
    try:
        import zxingcpp
        from PIL import Image
    except ImportError:
        raise CardCommandError(
            "reading an image needs zxing-cpp and pillow (the terminal extra); or pass --text"
        ) from None
    try:
        with Image.open(path) as image:
            found = zxingcpp.read_barcodes(
                image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
    except OSError as exc:
        raise CardCommandError(f"{path}: not an image: {exc}") from None
    if not found:
        raise CardCommandError(f"{path}: no QR code found")
    return str(found[0].text)


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url.rstrip("/")
    if not urlsplit(url).path:
        url += JWKS_PATH
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read(MAX_KEY_SET_BYTES + 1)
        if len(body) > MAX_KEY_SET_BYTES:
            raise KeySetError(f"the key set is over {MAX_KEY_SET_BYTES} bytes")
        keys = PublicKeys.from_jwks(body)  # stored only once it is known to load
        _write_atomically(args.out, body)
    except (OSError, urllib.error.URLError, KeySetError) as exc:
        print(f"cardhub: {url}: {exc}", file=sys.stderr)
        return 2
    print(f"stored {len(keys)} key(s) of {keys.issuer or url} in {args.out}")
    return 0


def _write_atomically(path: Path, body: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _status(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> tuple[str, str]:
        async with database.connected(settings.database_url):
            before, after = await set_status(args.card_number, WORDS[args.status])
            return before.value, after.value

    try:
        before, after = asyncio.run(run())
    except CardStatusError as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2
    note = "" if after == "ACTIVE" else "; no new virtual card credentials, those out expire within their lifetime"
    print(f"card {args.card_number}: {before} -> {after}{note}")
    return 0
