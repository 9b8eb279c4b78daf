"""``make bench`` (card): the virtual card (docs/virtual-card.md).

1. Offline verifications per second on one core (target: at least 10,000), with each Ed25519 backend
   cardverify has: libsodium (PyNaCl, when installed) and OpenSSL (cryptography).
2. Issuance per second through GraphQL (``Mutation.issueCardCredential``), one hub on one core.
3. QR version and payload size per purpose, for the largest persona.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

import aiohttp
import segno

from auth.card.issuer import CardIssuer
from benchmarks.full_profile import mint_tokens, start_hub
from cardverify import PublicKeys, Purpose, Verified, ed25519, verify
from keys.keyring import CARD, KeySet, generate
from sandbox import runner
from sandbox.personas import PERSONAS

ISSUE = "mutation($p: CardPurpose!) { issueCardCredential(purpose: $p) { text } }"
LARGEST_FACTS: dict[Purpose, dict[str, object]] = {
    Purpose.TRANSIT: {"card_valid": True, "concession": "DISABLED"},
    Purpose.LIBRARY: {"patron_valid": True, "borrowing_blocked": True},
    Purpose.CLINIC: {"health_card_number": "HC3502031234567890", "registered_clinic": "思明区鹭江街道社区卫生服务中心"},
}


def verifications_per_second(seconds: float) -> dict[str, float]:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # one core, away from core 0
    issuer = CardIssuer(KeySet.parse(CARD, generate("bench")), "https://citizen-card.xiamen.gov.cn")
    text = issuer.issue(Purpose.CLINIC, PERSONAS[0].card_number, LARGEST_FACTS[Purpose.CLINIC]).text
    rates = {}
    for name, backend in (("libsodium", ed25519.checker), ("openssl", ed25519._openssl)):
        if name == "libsodium" and ed25519.BACKEND != "libsodium":
            continue
        ed25519.checker = backend
        keys = PublicKeys.from_jwks(issuer.jwks())
        now = time.time()
        assert isinstance(verify(text, keys, Purpose.CLINIC, now), Verified)
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(500):
                verify(text, keys, Purpose.CLINIC, now)
            done += 500
        rates[name] = done / elapsed
    return rates


async def issuance_per_second(url: str, tokens: list[str], seconds: float, concurrency: int) -> tuple[float, int]:
    done = failed = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker(k: int) -> None:
            nonlocal done, failed
            i = k
            while time.perf_counter() < deadline:
                headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                variables = {"p": ("TRANSIT", "LIBRARY", "CLINIC", "IDENTITY")[i % 4]}
                async with session.post(url, json={"query": ISSUE, "variables": variables}, headers=headers) as resp:
                    body = await resp.json()
                ok = resp.status == 200 and not body.get("errors")
                done += ok
                failed += not ok
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done / (time.perf_counter() - started), failed


def sizes() -> list[tuple[str, int, int]]:
    issuer = CardIssuer(KeySet.parse(CARD, generate("bench")), "https://citizen-card.xiamen.gov.cn")
    longest = max(PERSONAS, key=lambda p: len(p.name.encode()))
    facts: dict[Purpose, dict[str, object]] = {
        **LARGEST_FACTS,
        Purpose.IDENTITY: {"name": longest.name, "card_number": longest.card_number},
    }
    rows = []
    for purpose in Purpose:
        text = issuer.issue(purpose, longest.card_number, facts[purpose]).text
        rows.append((purpose.label, len(text), int(segno.make_qr(text, error="m").version)))  # type: ignore[call-overload]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench (card)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    print("QR code per purpose (largest persona, a 33-character issuer URL), level M:")
    for label, length, version in sizes():
        print(f"  {label:9} {length:4} characters  version {version:2}  {'ok' if version <= 12 else 'OVER 12'}")

    workdir = tempfile.mkdtemp(prefix="cardhub-bench-card-")
    env = {
        **os.environ,
        "CARDHUB_MODE": "sandbox",
        "CARDHUB_DATABASE_URL": f"sqlite://{workdir}/bench.sqlite3",
        "CARDHUB_LOG_LEVEL": "WARNING",
    }
    with runner.start() as sandbox:
        port = runner.free_port()
        hub = start_hub(sandbox, env, port, cpu=0)
        try:
            tokens = mint_tokens(env)
            rate, failed = asyncio.run(
                issuance_per_second(f"http://127.0.0.1:{port}/graphql", tokens, args.seconds, args.concurrency)
            )
            print(f"issuance through GraphQL: {rate:,.0f}/s on one core ({failed} failed), every purpose in turn")
        finally:
            hub.terminate()
            hub.wait(10)

    for backend, per_second in verifications_per_second(args.seconds).items():
        verdict = "meets" if per_second >= 10_000 else "below"
        print(f"offline verification ({backend}): {per_second:,.0f}/s on one core ({verdict} the 10,000/s target)")


if __name__ == "__main__":
    main()
