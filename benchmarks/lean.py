"""``make bench`` (the lean path): one hub process on one core, the requests issue 14 sets figures for.

The hub runs as ``cardhub serve`` in sandbox mode on SQLite with the in-process section cache, pinned to
core 0; ``wrk -t1 -c32`` loads it from core 1 (``benchmarks/peer.py`` has the wrk driver). Eight
citizens take turns. Measured, each a few rounds of a few seconds:

- ``{ me { cardNumber } }``: the token, the registry and the per-request machinery, no agency;
- the full profile as a registered document (``documentId``), cached: what a client of the hub sends;
  token, consent and the audit record still run on every request;
- the token endpoint, client credentials (HTTP Basic), for an agency client.

Every answer is checked: a non-200 status or GraphQL errors counts as failed. Not a test: record the
figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.full_profile import QUERY, start_hub
from benchmarks.peer import (
    CARD_NUMBER,
    CLIENT_CREDENTIALS,
    CONSOLE,
    Request,
    agency_client,
    by_document,
    mint_tokens,
    register,
    wrk,
)
from sandbox import runner
from sandbox.personas import PERSONAS


def by_text(query: str, tokens: Sequence[str]) -> list[Request]:
    body = json.dumps({"query": query})
    return [("/graphql", {"Content-Type": "application/json", "Authorization": f"Bearer {t}"}, body) for t in tokens]


def client_credentials(client_id: str, secret: str) -> list[Request]:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
    return [("/oauth/token", headers, CLIENT_CREDENTIALS)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench (the lean path)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--citizens", type=int, default=8)
    parser.add_argument("--only", choices=("me", "profile", "token"), action="append", help="run only these")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("The lean path: skipped (wrk is not installed: Debian package wrk)")
        return
    workdir = Path(tempfile.mkdtemp(prefix="cardhub-lean-"))
    env = {
        **os.environ,
        "CARDHUB_MODE": "sandbox",
        "CARDHUB_LOG_LEVEL": "WARNING",
        "CARDHUB_DATABASE_URL": f"sqlite://{workdir}/lean.sqlite3",
        "CARDHUB_CACHE_URL": "memory",
    }
    sandbox = runner.start(ephemeral=True)
    port = runner.free_port()
    hub = start_hub(sandbox, env, port)
    base = f"http://{runner.HOST}:{port}"
    try:
        tokens = mint_tokens(env, [p.card_number for p in PERSONAS[: args.citizens]])
        document_id = register(env, CONSOLE, QUERY, workdir)
        loads = {
            "me": ("{ me { cardNumber } }", by_text(CARD_NUMBER, tokens)),
            "profile": ("full profile by documentId, cached", by_document(document_id, tokens)),
            "token": ("token endpoint, client credentials", client_credentials(*agency_client(env))),
        }
        chosen = args.only or list(loads)
        for key in chosen:  # warm: the section cache, the remembered lookups, the connections
            wrk(base, loads[key][1], 2, args.connections, workdir)
        print(f"The lean path: one hub process on core 0, wrk -c{args.connections} on core 1, req/s, "
              f"median (range) of {args.rounds} runs of {args.seconds:g} s")  # fmt: skip
        for key in chosen:
            what, requests = loads[key]
            runs = [wrk(base, requests, args.seconds, args.connections, workdir) for _ in range(args.rounds)]
            rps = [r for r, _ in runs]
            print(f"  {what}: {statistics.median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f}), "
                  f"{sum(f for _, f in runs)} failed")  # fmt: skip
    finally:
        hub.terminate()
        hub.wait(10)
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
