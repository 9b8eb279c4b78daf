"""``make bench``: full-profile latency with 100 ms at every agency, and throughput with none.

Runs the real thing on loopback: five sandbox agency processes, the hub as ``cardhub serve`` in its
own process, and this process as the load generator (pinned to the other core where possible).
Not a test: numbers depend on the machine. Record them in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable
from pathlib import Path

import aiohttp

from connectors.registry import builtin_connector
from sandbox import runner
from sandbox.agencies import AGENCY_IDS
from sandbox.personas import PERSONAS

QUERY = """{ me { cardNumber name card { status }
  socialSecurity { medicalAccountBalance contributions(first: 20) { nodes { period base } } }
  transit { balance concession trips(first: 20) { nodes { at fare } } }
  health { healthCardNumber visits(first: 20) { nodes { on kind } } vaccinations(first: 20) { nodes { vaccine } } }
  housingFund { balance monthlyDeposit loans { nodes { outstanding } } }
  library { fines loans { nodes { title overdue } } reservations { nodes { title } } } } }"""
INJECTED_MS = 100
CARDHUB = str(Path(sys.executable).parent / "cardhub")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def set_latency(sandbox: runner.Sandbox, ms: int) -> None:
    for agency in AGENCY_IDS:
        body = json.dumps({"latency_ms": ms}).encode()
        req = urllib.request.Request(sandbox.url(agency) + "/_sandbox/fault", data=body, method="PUT")
        urllib.request.urlopen(req, timeout=5).close()


def pin(cpu: int) -> list[str]:
    """A command prefix that pins a child to one core, when the machine has two or more."""
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def start_hub(sandbox: runner.Sandbox, env: dict[str, str], port: int, cpu: int = 0) -> subprocess.Popen[bytes]:
    for agency, url in sandbox.urls.items():
        env[f"CARDHUB_AGENCY_{agency.upper()}_URL"] = url
    proc = subprocess.Popen(
        [*pin(cpu), CARDHUB, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"hub exited: {proc.stderr.read().decode() if proc.stderr else ''}") from None
            time.sleep(0.1)
    raise SystemExit("hub did not start within 30 s")


async def one(session: aiohttp.ClientSession, url: str, token: str) -> tuple[float, bool]:
    started = time.perf_counter()
    async with session.post(url, json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
    ok = resp.status == 200 and not body.get("errors") and body["data"]["me"] is not None
    return time.perf_counter() - started, ok


async def latency(url: str, tokens: list[str], rounds: int) -> tuple[list[float], list[float], int]:
    async with aiohttp.ClientSession() as session:
        cold = [await one(session, url, t) for t in tokens]  # first request per citizen
        warm = [await one(session, url, tokens[i % len(tokens)]) for i in range(rounds)]
    failures = sum(not ok for _, ok in cold + warm)
    return [d for d, _ in cold], [d for d, _ in warm], failures


async def throughput(
    url: str | list[str], tokens: list[str], seconds: float, concurrency: int
) -> tuple[float, int, int]:
    """Requests per second; with several URLs (hub instances) the clients take them in turn."""
    urls = [url] if isinstance(url, str) else url
    done = failed = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(k: int) -> None:
            nonlocal done, failed
            i = k
            while time.perf_counter() < deadline:
                _, ok = await one(session, urls[i % len(urls)], tokens[i % len(tokens)])
                done += ok
                failed += not ok
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, done, failed


async def direct_floor(sandbox: runner.Sandbox, card_number: str, rounds: int = 30) -> tuple[float, float]:
    """p50 ms of (the slowest agency fetched alone, all five fetched together), with the connectors
    but without the hub's HTTP, tokens, registry and GraphQL: what the hub adds is the rest."""
    connectors = [builtin_connector(agency, cfg) for agency, cfg in sandbox.configs().items()]
    for connector in connectors:
        await connector.client.start()
    try:
        await asyncio.gather(*(c.fetch(card_number) for c in connectors))  # warm: tokens, keys, connections
        alone = []
        for connector in connectors:
            samples = [await timed(connector.fetch(card_number)) for _ in range(rounds // 3)]
            alone.append(percentile(samples, 50) * 1000)
        together = [await timed(asyncio.gather(*(c.fetch(card_number) for c in connectors))) for _ in range(rounds)]
        return max(alone), percentile(together, 50) * 1000
    finally:
        for connector in connectors:
            await connector.client.close()


async def timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


def mint_tokens(env: dict[str, str]) -> list[str]:
    cards = [p.card_number for p in PERSONAS]
    return [subprocess.check_output([CARDHUB, "token", "--persona", c], env=env, text=True).strip() for c in cards]


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--rounds", type=int, default=300, help="warm latency samples")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput run length")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="cardhub-bench-")
    env = {
        **os.environ,
        "CARDHUB_MODE": "sandbox",  # the bench runs the sandbox agencies and personas
        "CARDHUB_DATABASE_URL": f"sqlite://{workdir}/bench.sqlite3",
        "CARDHUB_LOG_LEVEL": "WARNING",
        # The agency path itself: with the cache on, warm reads would be cache hits
        # (benchmarks/cache_and_instances.py measures those).
        "CARDHUB_CACHE_URL": "off",
    }
    port = runner.free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    # The agencies may use either core, as other machines would serve them; the hub has core 0 and
    # this load generator core 1.
    sandbox = runner.start(ephemeral=True, latency=dict.fromkeys(AGENCY_IDS, INJECTED_MS))
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    hub = start_hub(sandbox, env, port)
    try:
        tokens = mint_tokens(env)
        cold, warm, failures = asyncio.run(latency(url, tokens, args.rounds))
        p50, p95 = percentile(warm, 50) * 1000, percentile(warm, 95) * 1000
        print(f"Full profile, {INJECTED_MS} ms injected at every agency call, one request at a time:")
        print(f"  warm  (n={len(warm)}): p50 {p50:.1f} ms  p95 {p95:.1f} ms  p50 ratio {p50 / INJECTED_MS:.2f}")
        print(
            f"  first request per citizen (n={len(cold)}): p50 {percentile(cold, 50) * 1000:.1f} ms  "
            f"p95 {percentile(cold, 95) * 1000:.1f} ms  ratio {percentile(cold, 50) * 1000 / INJECTED_MS:.2f}"
        )
        print(f"  failed requests: {failures}")
        alone, together = asyncio.run(direct_floor(sandbox, PERSONAS[0].card_number))
        hub_ms = percentile(asyncio.run(latency(url, tokens[:1], args.rounds // 3))[1], 50) * 1000
        print(f"  for {PERSONAS[0].card_number}, p50: the slowest agency alone through its connector {alone:.1f} ms;")
        print(f"    all five connectors at once, no hub around them {together:.1f} ms; through the hub {hub_ms:.1f} ms")
        print(f"    (the hub's HTTP, token, registry and GraphQL add {hub_ms - together:.1f} ms)")
        set_latency(sandbox, 0)
        rps, done, failed = asyncio.run(throughput(url, tokens, args.seconds, args.concurrency))
        print(f"Full profile, no injected latency, {args.concurrency} concurrent clients, {args.seconds:g} s:")
        print(f"  {rps:.0f} req/s ({done} ok, {failed} failed)")
    finally:
        hub.terminate()
        hub.wait(10)
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
