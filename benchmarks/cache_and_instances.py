"""``make bench`` (second part): the section cache and several hub instances.

1. Cache hit against miss: the full profile with 100 ms at every agency call, first on a hub without
   a cache (every read a miss), then warm on a hub with its in-process cache (target: hit p50 at most
   10% of miss p50).
2. Single-flight: 100 concurrent identical full-profile requests for one citizen on a cold cache,
   and how many calls each agency resource received (target: 1 per section resource).
3. Throughput of two hub instances against one, sharing PostgreSQL and Redis, with the shared cache
   (skipped, with the reason, where PostgreSQL or Redis is not running).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter

import aiohttp

from benchmarks.full_profile import (
    CARDHUB,
    INJECTED_MS,
    QUERY,
    latency,
    mint_tokens,
    percentile,
    set_latency,
    start_hub,
    throughput,
)
from sandbox import runner
from sandbox.agencies import AGENCY_IDS


def reset_stats(sandbox: runner.Sandbox) -> None:
    for agency in AGENCY_IDS:
        req = urllib.request.Request(sandbox.url(agency) + "/_sandbox/stats/reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=5).close()


def agency_calls(sandbox: runner.Sandbox) -> dict[str, Counter[str]]:
    calls: dict[str, Counter[str]] = {}
    for agency in AGENCY_IDS:
        with urllib.request.urlopen(sandbox.url(agency) + "/_sandbox/stats", timeout=5) as resp:
            intervals = json.loads(resp.read())["intervals"]
        calls[agency] = Counter(i["path"] for i in intervals if not i["path"].endswith("token"))
    return calls


async def burst(url: str, token: str, n: int) -> int:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as session:

        async def one() -> bool:
            async with session.post(url, json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}) as r:
                body = await r.json()
                return r.status == 200 and not body.get("errors")

        return sum(await asyncio.gather(*(one() for _ in range(n))))


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def fresh_postgres() -> tuple[str, str] | None:
    """(URL of a new empty database, its name), or None where PostgreSQL is not running."""
    if not listening(5432) or not shutil.which("psql"):
        return None
    name = f"cardhub_bench_{secrets.token_hex(4)}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)  # fmt: skip
    return f"postgres://postgres@127.0.0.1:5432/{name}", name


def drop_postgres(name: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
                    f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench (cache and instances)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="cardhub-bench-")
    base_env = {**os.environ, "CARDHUB_MODE": "sandbox", "CARDHUB_LOG_LEVEL": "WARNING"}
    sandbox = runner.start(ephemeral=True, latency=dict.fromkeys(AGENCY_IDS, INJECTED_MS))
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    hubs: list[subprocess.Popen[bytes]] = []
    database: str | None = None
    try:
        # 1. hit against miss
        env = {**base_env, "CARDHUB_DATABASE_URL": f"sqlite://{workdir}/cache.sqlite3", "CARDHUB_CACHE_URL": "off"}
        port = runner.free_port()
        hubs.append(start_hub(sandbox, env, port))
        tokens = mint_tokens(env)
        _, miss, _ = asyncio.run(latency(f"http://127.0.0.1:{port}/graphql", tokens, args.rounds))
        hubs.pop().terminate()
        env["CARDHUB_CACHE_URL"] = "memory"
        port = runner.free_port()
        hubs.append(start_hub(sandbox, env, port))
        url = f"http://127.0.0.1:{port}/graphql"
        _, hit, failures = asyncio.run(latency(url, tokens, args.rounds))  # cold round first, then all hits
        miss50, hit50 = percentile(miss, 50) * 1000, percentile(hit, 50) * 1000
        print(f"Full profile, {INJECTED_MS} ms at every agency call, one request at a time (n={args.rounds}):")
        print(f"  cache miss (no cache) p50 {miss50:.1f} ms  p95 {percentile(miss, 95) * 1000:.1f} ms")
        print(f"  cache hit             p50 {hit50:.1f} ms  p95 {percentile(hit, 95) * 1000:.1f} ms")
        print(f"  hit / miss at p50: {hit50 / miss50:.1%} (target at most 10%); failed requests: {failures}")

        # 2. single-flight on a cold cache
        subprocess.run([CARDHUB, "cache", "purge"], env=env, check=True, capture_output=True)
        time.sleep(2.5)  # the hub applies the purge at its next poll (connector_poll_seconds, 2 s)
        reset_stats(sandbox)
        ok = asyncio.run(burst(url, tokens[0], 100))
        calls = agency_calls(sandbox)
        print(f"100 concurrent identical full-profile requests, cold cache ({ok} answered without errors):")
        for agency, paths in calls.items():
            shown = ", ".join(f"{n}x {p}" for p, n in sorted(paths.items()))
            print(f"  {agency}: {sum(paths.values())} calls ({shown})")
        hubs.pop().terminate()

        # 3. two instances against one, on PostgreSQL and Redis
        pg = fresh_postgres()
        if pg is None or not listening(6379):
            print("Two instances against one: skipped (needs PostgreSQL on 127.0.0.1:5432 and Redis on :6379)")
            return
        database_url, database = pg
        set_latency(sandbox, 0)
        redis_url = "redis://127.0.0.1:6379/14"
        subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)
        env = {**base_env, "CARDHUB_DATABASE_URL": database_url, "CARDHUB_CACHE_URL": redis_url}
        ports = [runner.free_port(), runner.free_port()]
        hubs.append(start_hub(sandbox, env, ports[0], cpu=0))
        tokens = mint_tokens(env)
        urls = [f"http://127.0.0.1:{p}/graphql" for p in ports]
        one_rps, _, one_failed = asyncio.run(throughput(urls[0], tokens, args.seconds, args.concurrency))
        hubs.append(start_hub(sandbox, env, ports[1], cpu=1))
        two_rps, _, two_failed = asyncio.run(throughput(urls, tokens, args.seconds, args.concurrency))
        print(f"Full profile, shared PostgreSQL and Redis cache, {args.concurrency} clients, {args.seconds:g} s:")
        print(f"  one instance:  {one_rps:.0f} req/s ({one_failed} failed)")
        print(f"  two instances: {two_rps:.0f} req/s ({two_failed} failed), {two_rps / one_rps:.2f}x")
        print("  (2 cores: the second instance shares a core with this load generator)")
    finally:
        for hub in hubs:
            hub.terminate()
            hub.wait(10)
        sandbox.stop()
        if database is not None:
            drop_postgres(database)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
