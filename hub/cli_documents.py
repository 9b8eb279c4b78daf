"""``cardhub documents register|list|revoke``: the trusted documents each client may run.

In production, public clients (and anonymous requests) run registered documents only; see
docs/security.md. ``register`` takes ``.graphql`` files (each file's exact text is one document) or
Apollo persisted-query manifests (``.json``), checks every document against the schema first, and
registers all of them or none. It prints each ``documentId`` (``sha256:<hex>``) the client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from auth import clients, documents
from hub import database
from hub.settings import Settings

APOLLO_FORMAT = "apollo-persisted-query-manifest"


class DocumentFileError(ValueError):
    pass


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("documents", help="trusted documents: the GraphQL operations a client may run")
    commands = parser.add_subparsers(dest="documents_command", required=True)
    register = commands.add_parser("register", help="register .graphql files or an Apollo manifest for a client")
    register.add_argument("--client", required=True, help="the client id")
    register.add_argument("files", nargs="+", metavar="FILE", type=Path, help=".graphql files or an Apollo manifest")
    register.set_defaults(handler=_register)
    listing = commands.add_parser("list", help="registered documents (revoked ones marked)")
    listing.add_argument("--client", help="only this client's")
    listing.set_defaults(handler=_list)
    revoke = commands.add_parser("revoke", help="stop accepting documents from a client")
    revoke.add_argument("--client", required=True, help="the client id")
    revoke.add_argument("document_ids", nargs="+", metavar="DOCUMENT_ID", help="sha256:<hex>")
    revoke.set_defaults(handler=_revoke)


def read_documents(path: Path) -> list[str]:
    """The document texts in a file: a .graphql file's whole text, or each operation of an Apollo manifest."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentFileError(f"{path}: cannot read: {exc}") from None
    if path.suffix != ".json":
        return [text]
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentFileError(f"{path}: not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != APOLLO_FORMAT or manifest.get("version") != 1:
        raise DocumentFileError(f'{path}: not an Apollo persisted-query manifest ("format": "{APOLLO_FORMAT}", 1)')
    bodies: list[str] = []
    for n, operation in enumerate(manifest.get("operations") or []):
        body = operation.get("body") if isinstance(operation, dict) else None
        if not isinstance(body, str):
            raise DocumentFileError(f"{path}: operations[{n}]: no body")
        claimed = str(operation.get("id", "")).removeprefix("sha256:")
        if claimed and claimed != documents.document_id(body).removeprefix("sha256:"):
            raise DocumentFileError(f"{path}: operations[{n}]: its id is not the SHA-256 of its body")
        bodies.append(body)
    return bodies


def _operation_names(settings: Settings, texts: list[str]) -> list[str]:
    """Check every document against the schema (all must pass); returns each one's operation names."""
    from graphql import OperationDefinitionNode  # the schema's modules only for the commands that use them

    from hub.graphql_app import limits_for
    from schema.documents import DocumentInvalid
    from schema.schema import build_schema

    prepared = build_schema(edge=limits_for(settings)).documents
    names: list[str] = []
    problems: list[str] = []
    for text in texts:
        try:
            document = prepared.check(text)
        except DocumentInvalid as exc:
            problems.append(f"{documents.document_id(text)}: {exc}")
            continue
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        names.append(",".join(op.name.value if op.name else "(anonymous)" for op in ops)[:128])
    if problems:
        raise DocumentFileError("refused, nothing registered:\n  " + "\n  ".join(problems))
    return names


def _register(args: argparse.Namespace, settings: Settings) -> int:
    try:
        texts = [text for path in args.files for text in read_documents(path)]
        names = _operation_names(settings, texts)
    except DocumentFileError as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2

    async def run() -> list[tuple[str, bool]] | None:
        async with database.connected(settings.database_url):
            if await clients.find(args.client) is None:
                return None
            return [
                (doc.document_id, new)
                for doc, new in [await documents.register(args.client, t, n) for t, n in zip(texts, names, strict=True)]
            ]

    done = asyncio.run(run())
    if done is None:
        print(f"cardhub: no client {args.client!r} (cardhub clients create)", file=sys.stderr)
        return 2
    for (doc_id, new), name in zip(done, names, strict=True):
        print(f"{doc_id}  {name}  {'registered' if new else 'already registered'}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[documents.TrustedDocument]:
        async with database.connected(settings.database_url):
            return await documents.listed(args.client)

    for doc in asyncio.run(run()):
        state = f"revoked {doc.revoked_at:%Y-%m-%d}" if doc.revoked_at else f"since {doc.registered_at:%Y-%m-%d}"
        print(f"{doc.client_id}  {doc.document_id}  {doc.name or '-'}  {state}")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> list[bool]:
        async with database.connected(settings.database_url):
            return [await documents.revoke(args.client, d) for d in args.document_ids]

    missing = [d for d, ok in zip(args.document_ids, asyncio.run(run()), strict=True) if not ok]
    for doc_id in args.document_ids:
        if doc_id not in missing:
            print(f"revoked {doc_id} for {args.client}")
    for doc_id in missing:
        print(f"cardhub: {doc_id} is not registered for {args.client} (or already revoked)", file=sys.stderr)
    return 1 if missing else 0
