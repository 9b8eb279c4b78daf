"""A Python app on the hub with gql: each document checked against the published schema
(schema.graphql) before it is sent, and, with --persisted, sent as its ``documentId`` instead of its
text, as a production hub asks of apps (docs/for-app-developers.md, "Trusted documents").

    pip install "gql[aiohttp]"
    python docs/examples/gql_client.py --hub http://127.0.0.1:8000 --token "$TOKEN"
    python docs/examples/gql_client.py --hub http://127.0.0.1:8000 --token "$TOKEN" --persisted

The documents are the files in docs/examples/documents/, one operation each; their ids are the
SHA-256 of each file's exact text. With --persisted, the operator registers them for the app first:

    cardhub documents register --client CLIENT_ID docs/examples/documents/*.graphql

A section an agency could not give, or the citizen did not consent to, is null with an error: the
script prints what came and each error's code (a partial result), as an app shows the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError
from graphql import parse, print_ast

HERE = Path(__file__).resolve().parent
DOCUMENTS = HERE / "documents"
SCHEMA = HERE.parents[1] / "schema.graphql"
VARIABLES: dict[str, dict[str, Any]] = {"Trips": {"first": 3}}


def document_id(text: str) -> str:
    """GraphQL-over-HTTP persisted documents: ``sha256:`` and the hex SHA-256 of the exact text."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class PersistedDocuments(AIOHTTPTransport):
    """Sends ``documentId`` in place of ``query`` for each known document.

    gql sends its own printing of a document, not the file's text, so the id is looked up by that
    printing and always computed from the file's exact text (the one the operator registered).
    """

    def __init__(self, texts: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ids = {print_ast(parse(text)): document_id(text) for text in texts}

    def _prepare_request(self, request: Any, extra_args: Any = None, upload_files: bool = False) -> dict[str, Any]:
        post_args: dict[str, Any] = super()._prepare_request(request, extra_args, upload_files)
        payload = post_args["json"]
        payload["documentId"] = self.ids[payload.pop("query")]  # an unknown document is a bug in the app
        return post_args


async def run(hub: str, token: str, persisted: bool, schema: Path = SCHEMA) -> list[dict[str, Any]]:
    """Run every document; return, for each, its name, data and error codes."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in sorted(DOCUMENTS.glob("*.graphql"))}
    sdl = schema.read_text(encoding="utf-8")  # noqa: ASYNC240 (read once, before anything runs)
    options: dict[str, Any] = {"url": hub.rstrip("/") + "/graphql", "headers": {"Authorization": f"Bearer {token}"}}
    transport = PersistedDocuments(list(texts.values()), **options) if persisted else AIOHTTPTransport(**options)
    # schema=: gql validates each document against the published SDL before anything is sent.
    client = Client(transport=transport, schema=sdl)
    answers: list[dict[str, Any]] = []
    async with client as session:
        for name, text in texts.items():
            request = GraphQLRequest(text, variable_values=VARIABLES.get(name))
            try:
                data, codes = await session.execute(request), []
            except TransportQueryError as exc:  # a partial result: show what came
                data, codes = exc.data, [error.get("extensions", {}).get("code") for error in exc.errors or []]
            answers.append({"operation": name, "data": data, "errors": codes})
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub", required=True, help="the hub's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a bearer token (cardhub demo prints one)")
    parser.add_argument("--persisted", action="store_true", help="send documentId instead of the text")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the published SDL (default: schema.graphql)")
    args = parser.parse_args(argv)
    for answer in asyncio.run(run(args.hub, args.token, args.persisted, args.schema)):
        print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
