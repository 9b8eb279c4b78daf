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
from pathlib import Path

import aiohttp

from connectors.registry import build_connector
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


def start_hub(sandbox: runner.Sandbox, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    for agency, url in sandbox.urls.items():
        env[f"CARDHUB_AGENCY_{agency.upper()}_URL"] = url
    proc = subprocess.Popen(
        [*pin(0), CARDHUB, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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


async def throughput(url: str, tokens: list[str], seconds: float, concurrency: int) -> tuple[float, int, int]:
    done = failed = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(k: int) -> None:
            nonlocal done, failed
            i = k
            while time.perf_counter() < deadline:
                _, ok = await one(session, url, tokens[i % len(tokens)])
                done += ok
                failed += not ok
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, done, failed


async def direct_floor(sandbox: runner.Sandbox, card_number: str, rounds: int = 15) -> float:
    """p50 ms of the slowest agency's own fetch, without the hub: what no hub can beat."""
    worst = 0.0
    for agency, cfg in sandbox.configs().items():
        connector = build_connector(agency, cfg)
        await connector.client.start()
        try:
            await connector.fetch(card_number)  # warm: tokens, remembered keys, connections
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                await connector.fetch(card_number)
                samples.append(time.perf_counter() - started)
            worst = max(worst, percentile(samples, 50) * 1000)
        finally:
            await connector.client.close()
    return worst


def mint_tokens(env: dict[str, str]) -> list[str]:
    cards = [p.card_number for p in PERSONAS]
    return [subprocess.check_output([CARDHUB, "token", "--persona", c], env=env, text=True).strip() for c in cards]


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--rounds", type=int, default=300, help="warm latency samples")
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput run length")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    workdir = tempfile.mkdtemp(prefix="cardhub-bench-")
    env = {
        **os.environ,
        "CARDHUB_DATABASE_URL": f"sqlite://{workdir}/bench.sqlite3",
        "CARDHUB_LOG_LEVEL": "WARNING",
    }
    port = runner.free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    sandbox = runner.start(ephemeral=True, latency=dict.fromkeys(AGENCY_IDS, INJECTED_MS))
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
        floor = asyncio.run(direct_floor(sandbox, PERSONAS[0].card_number))
        typical = asyncio.run(latency(url, tokens[:1], args.rounds // 3))[1]
        print(
            f"  floor: the slowest agency fetched directly for {PERSONAS[0].card_number} (no hub): {floor:.1f} ms; "
            f"the hub for the same citizen: {percentile(typical, 50) * 1000:.1f} ms "
            f"(overhead ratio {percentile(typical, 50) * 1000 / floor:.2f})"
        )
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
