"""``make bench`` (peer part): cardhub side by side with Hive Gateway 2.15.1 on the same five agencies.

Hive runs from ``benchmarks/hive/`` (versions pinned by its lockfile; ``make bench`` runs ``npm ci``):
its supergraph is composed from each sandbox agency's ``/openapi.json``, and its plugin
(``agency-auth.ts``) speaks the agencies' three auth styles. Four gateways run at once, each pinned to
core 0: Hive without and with its response cache, cardhub with its section cache off and on (sandbox
mode, SQLite). ``wrk -c32``, pinned to core 1, loads one at a time, interleaved, for each query and round.
Hive reads agencies only; cardhub also checks the token and the consent and appends to the audit log on
every read, cache hit or not. Not a test: record the figures in docs/performance.md, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks.full_profile import (
    CARDHUB,
    INJECTED_MS,
    QUERY,
    direct_floor,
    percentile,
    pin,
    set_latency,
    start_hub,
)
from sandbox import runner
from sandbox.personas import PERSONAS

HIVE_DIR = Path(__file__).parent / "hive"
HIVE_BIN = HIVE_DIR / "node_modules" / ".bin"
ONE_SECTION = """{ me { health { healthCardNumber
  visits(first: 20) { nodes { on kind } } vaccinations(first: 20) { nodes { vaccine } } } } }"""
CARD_NUMBER = "{ me { cardNumber } }"
# The same agency resources as QUERY and ONE_SECTION, asked of Hive by card number: Hive knows no
# citizen, token or consent. Trips and library lists need a first lookup each (e-tong card, patron).
HIVE_HEALTH = """health_card_v1_residents_by_card_no(card_no: "{c}") {{ ... on health_Resident {{ health_card_no }} }}
  health_card_v1_residents_by_card_no_visits(card_no: "{c}", page_size: 20) {{
    ... on health_VisitPage {{ records {{ visit_date visit_type }} }} }}
  health_card_v1_residents_by_card_no_vaccinations(card_no: "{c}", page_size: 20) {{
    ... on health_VaccinationPage {{ records {{ vaccine_name }} }} }}"""
HIVE_OTHERS = """getInsured(card_no: "{c}") {{
    ... on social_security_InsuredEnvelope {{ data {{ medical_account_balance }} }} }}
  listContributions(card_no: "{c}", size: 20) {{
    ... on social_security_ContributionsEnvelope {{ data {{ records {{ period base }} }} }} }}
  v1_citizens_by_citizenCardNumber_card(citizenCardNumber: "{c}") {{ ... on transit_Card {{ balance concession
    trips(limit: 20) {{ ... on transit_TripPage {{ items {{ startedAt fare }} }} }} }} }}
  gjj_openapi_accounts_by_cardNo(cardNo: "{c}") {{
    ... on housing_fund_gjj_openapi_accounts_by_cardNo_200_response {{
      data {{ balance monthlyDeposit {{ personal employer }} }} }} }}
  gjj_openapi_accounts_by_cardNo_loans(cardNo: "{c}") {{
    ... on housing_fund_gjj_openapi_accounts_by_cardNo_loans_200_response {{
      data {{ loans {{ outstandingPrincipal }} }} }} }}
  opac_api_patrons_by_citizen_card_by_cardNo(cardNo: "{c}") {{ ... on library_Patron {{ fineBalance
    loans(limit: 20) {{ ... on library_LoanPage {{ entries {{ title overdue }} }} }}
    holds(limit: 20) {{ ... on library_HoldPage {{ entries {{ title }} }} }} }} }}"""
HIVE_QUERIES = {
    "one section": "{{ " + HIVE_HEALTH + " }}",
    "multi-agency": "{{ " + HIVE_HEALTH + "\n  " + HIVE_OTHERS + " }}",
}
HUB_QUERIES = {"one section": ONE_SECTION, "multi-agency": QUERY}
CLIENT_CREDENTIALS = "grant_type=client_credentials"
GATEWAYS = ("Hive, no cache", "Hive, response cache on", "cardhub, cache off", "cardhub, section cache on")

# One wrk request: (path, headers, body).
Request = tuple[str, dict[str, str], str]


def missing_tools() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not (HIVE_BIN / "hive-gateway").exists():
        return f"Hive Gateway is not installed (cd {HIVE_DIR} && npm ci)"
    if not shutil.which("wrk"):
        return "wrk is not installed (Debian package wrk)"
    return None


def compose(sandbox: runner.Sandbox, out: Path) -> None:
    env = {**os.environ, "PEER_AGENCIES": json.dumps(sandbox.urls)}
    subprocess.run([HIVE_BIN / "mesh-compose", "-o", out], cwd=HIVE_DIR, env=env, check=True, capture_output=True)


def start_hive(sandbox: runner.Sandbox, supergraph: Path, port: int, *, cache: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PEER_AGENCY_AUTH": json.dumps(list(sandbox.configs().values())),
        "PEER_RESPONSE_CACHE": "1" if cache else "0",
        "NODE_ENV": "production",
    }
    gateway = [str(HIVE_BIN / "hive-gateway"), "supergraph", str(supergraph), "--fork", "1"]
    cmd = [*pin(0), *gateway, "--host", runner.HOST, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=HIVE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"Hive exited: {proc.stderr.read().decode() if proc.stderr else ''}") from None
            time.sleep(0.2)
    raise SystemExit("Hive did not start within 60 s")


CONSOLE = "sandbox-console"  # the client `cardhub token` mints for


def register(env: dict[str, str], client: str, text: str, workdir: Path) -> str:
    """Register ``text`` for ``client`` with ``cardhub documents register``; returns its documentId."""
    path = workdir / f"document-{hashlib.sha256(text.encode()).hexdigest()[:12]}.graphql"
    path.write_text(text)
    out = subprocess.check_output([CARDHUB, "documents", "register", "--client", client, str(path)], env=env, text=True)
    return out.split()[0]


def by_document(document_id: str, tokens: Sequence[str]) -> list[Request]:
    """One request per token, sending the registered document's id instead of its text."""
    body = json.dumps({"documentId": document_id})
    return [("/graphql", {"Content-Type": "application/json", "Authorization": f"Bearer {t}"}, body) for t in tokens]


def graphql_requests(queries: Sequence[str], tokens: Sequence[str] = ()) -> list[Request]:
    """One request per query (Hive: one per citizen) or per token (cardhub: one per citizen)."""
    if tokens:
        body = json.dumps({"query": queries[0]})
        return [
            ("/graphql", {"Content-Type": "application/json", "Authorization": f"Bearer {t}"}, body) for t in tokens
        ]
    return [("/graphql", {"Content-Type": "application/json"}, json.dumps({"query": q})) for q in queries]


def lua(text: str) -> str:
    return f"[==[{text}]==]"


def wrk_script(requests: Sequence[Request]) -> str:
    """Requests in turn; a response that is not 200 or that carries GraphQL errors counts as failed."""
    rows = ",\n".join(
        "{" + f"{lua(p)}, {{{', '.join(f'[ {lua(k)} ]={lua(v)}' for k, v in h.items())}}}, {lua(b)}" + "}"
        for p, h, b in requests
    )
    return f"""local requests = {{
{rows}
}}
local i = 0
failed = 0
function request()
  i = i % #requests + 1
  local r = requests[i]
  return wrk.format("POST", r[1], r[2], r[3])
end
function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then failed = failed + 1 end
end
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("failed") end
  io.write(string.format("failed %d\\n", n))
end
"""


def wrk(
    base_url: str, requests: Sequence[Request], seconds: float, connections: int, workdir: Path
) -> tuple[float, int]:
    """(requests per second, failed responses), wrk on core 1 with one thread."""
    script = workdir / "bench.lua"
    script.write_text(wrk_script(requests))
    cmd = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), base_url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("Requests/sec:"))
    failed = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("failed "))
    return rps, failed


async def p50_ms(url: str, request: Request, rounds: int) -> tuple[float, bool]:
    """Median latency of one request sent one at a time, and whether every answer was clean."""
    path, headers, body = request
    samples, clean = [], True
    async with aiohttp.ClientSession() as session:
        for _ in range(rounds):
            started = time.perf_counter()
            async with session.post(url + path, data=body, headers=headers) as resp:
                answer = await resp.json()
            samples.append(time.perf_counter() - started)
            clean = clean and resp.status == 200 and not answer.get("errors")
    return percentile(samples, 50) * 1000, clean


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Hive may fork workers)."""
    total = 0.0
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def mint_tokens(env: dict[str, str], cards: Sequence[str]) -> list[str]:
    return [subprocess.check_output([CARDHUB, "token", "--persona", c], env=env, text=True).strip() for c in cards]


def agency_client(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.check_output(
        [CARDHUB, "clients", "create", "--name", "Peer bench agency", "--type", "agency", "--scope", "health",
         "--purpose", "benchmark", "--json"], env=env, text=True)  # fmt: skip
    created = json.loads(out)
    return created["client_id"], created["client_secret"]


def times(value: float) -> str:
    return f"{value:.2f}x"


def spread(values: Sequence[float], fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> str:
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


@dataclass
class Bench:
    args: argparse.Namespace
    sandbox: runner.Sandbox
    workdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    base: dict[str, str] = field(default_factory=dict)
    requests: dict[tuple[str, str], list[Request]] = field(default_factory=dict)
    agency: tuple[str, str] = ("", "")  # an agency client's id and secret, for the token endpoint

    def start(self, cards: Sequence[str]) -> None:
        supergraph = self.workdir / "supergraph.graphql"
        compose(self.sandbox, supergraph)
        ports = {name: runner.free_port() for name in GATEWAYS}
        self.base = {name: f"http://{runner.HOST}:{port}" for name, port in ports.items()}
        for name, cache in ((GATEWAYS[0], False), (GATEWAYS[1], True)):
            self.procs[name] = start_hive(self.sandbox, supergraph, ports[name], cache=cache)
            self.requests.update({(name, q): graphql_requests([HIVE_QUERIES[q].format(c=c) for c in cards])
                                  for q in HIVE_QUERIES})  # fmt: skip
        # Both hubs start from one database, so one set of tokens (a process start each) serves both.
        env = {**os.environ, "CARDHUB_MODE": "sandbox", "CARDHUB_LOG_LEVEL": "WARNING"}
        env["CARDHUB_DATABASE_URL"] = f"sqlite://{self.workdir}/off.sqlite3"
        tokens = mint_tokens(env, cards)
        self.agency = agency_client(env)
        # The cached hub is sent registered documents, as a client of the hub would: only those have their
        # whole answer cached (schema/responses.py); the uncached one is sent the text.
        documents = {q: register(env, CONSOLE, text, self.workdir) for q, text in HUB_QUERIES.items()}
        for file in self.workdir.glob("off.sqlite3*"):
            shutil.copy(file, self.workdir / file.name.replace("off", "memory", 1))
        for name, cache_url in ((GATEWAYS[2], "off"), (GATEWAYS[3], "memory")):
            hub_env = {**env, "CARDHUB_DATABASE_URL": f"sqlite://{self.workdir}/{cache_url}.sqlite3",
                       "CARDHUB_CACHE_URL": cache_url}  # fmt: skip
            self.procs[name] = start_hub(self.sandbox, hub_env, ports[name])
            self.requests.update({
                (name, q): by_document(documents[q], tokens) if cache_url == "memory"
                else graphql_requests([HUB_QUERIES[q]], tokens)
                for q in HUB_QUERIES
            })  # fmt: skip
        self.requests["me", CARD_NUMBER] = graphql_requests([CARD_NUMBER], tokens)

    def wrk(self, gateway: str, requests: Sequence[Request], seconds: float | None = None) -> tuple[float, int]:
        return wrk(self.base[gateway], requests, seconds or self.args.seconds, self.args.connections, self.workdir)

    def table(self) -> dict[tuple[str, str], list[float]]:
        for key, requests in self.requests.items():  # warm: Node's JIT, connections, agency tokens, the caches
            if key[0] in GATEWAYS:
                self.wrk(key[0], requests, 2)
        rps: dict[tuple[str, str], list[float]] = {(g, q): [] for g in GATEWAYS for q in HUB_QUERIES}
        failures = dict.fromkeys(rps, 0)
        for _ in range(self.args.rounds):
            for query in HUB_QUERIES:
                for gateway in GATEWAYS:
                    value, failed = self.wrk(gateway, self.requests[gateway, query])
                    rps[gateway, query].append(value)
                    failures[gateway, query] += failed
        print(
            f"\nRequests per second, median (range) of {self.args.rounds} interleaved runs of {self.args.seconds:g} s:"
        )
        print(f"  | query | {' | '.join(GATEWAYS)} |")
        for query in HUB_QUERIES:
            print(f"  | {query} | {' | '.join(spread(rps[g, query]) for g in GATEWAYS)} |")
        print(
            f"  failed responses (not 200, or GraphQL errors): {({k: n for k, n in failures.items() if n}) or 'none'}"
        )
        return rps

    def targets(self, rps: dict[tuple[str, str], list[float]]) -> None:
        def ratios(ours: str, theirs: str) -> list[float]:
            return [a / b for a, b in zip(rps[ours, "multi-agency"], rps[theirs, "multi-agency"], strict=True)]

        cached, uncached = ratios(GATEWAYS[3], GATEWAYS[1]), ratios(GATEWAYS[2], GATEWAYS[0])
        print("\nTargets (ratios within each round):")
        print(f"  cached full profile, cardhub (token, consent, audit) / Hive response cache: {spread(cached, times)};"
              f" target >= 1.00x: {verdict(statistics.median(cached) >= 1)}")  # fmt: skip
        print(f"  uncached multi-agency, cardhub cache off / Hive no cache: {spread(uncached, times)};"
              f" target >= 1.50x: {verdict(statistics.median(uncached) >= 1.5)}")  # fmt: skip
        self.throughput(CARD_NUMBER, self.requests["me", CARD_NUMBER], 3000)
        client_id, secret = self.agency
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
        self.throughput("token endpoint, client credentials,", [("/oauth/token", form, CLIENT_CREDENTIALS)], 2000)

    def throughput(self, what: str, requests: Sequence[Request], target: float) -> None:
        runs = [self.wrk(GATEWAYS[2], requests) for _ in range(self.args.rounds)]
        rps = [r for r, _ in runs]
        print(f"  {what} on one core: {spread(rps)} req/s ({sum(f for _, f in runs)} failed);"
              f" target >= {target:,.0f}: {verdict(statistics.median(rps) >= target)}")  # fmt: skip

    def fan_out(self, card: str) -> None:
        set_latency(self.sandbox, INJECTED_MS)
        alone, together = asyncio.run(direct_floor(self.sandbox, card))
        print(
            f"  full profile with {INJECTED_MS} ms at every agency, {card}, p50 of {self.args.samples} one at a time:"
        )
        print(f"    the slowest agency alone {alone:.1f} ms; all five connectors, no hub around them {together:.1f} ms")
        for gateway, target in ((GATEWAYS[2], 1.03), (GATEWAYS[0], None)):
            p50, clean = asyncio.run(
                p50_ms(self.base[gateway], self.requests[gateway, "multi-agency"][0], self.args.samples)
            )
            verdicts = f"; target <= {target:.2f}x: {verdict(p50 / alone <= target)}" if target else ""
            errors = "" if clean else " (answers carried errors)"
            print(f"    {gateway}: {p50:.1f} ms = {p50 / alone:.3f}x the slowest agency{verdicts}{errors}")
        set_latency(self.sandbox, 0)

    def memory(self) -> None:
        print("\nResident memory after the run:")
        for gateway in GATEWAYS:
            mb = rss_mb(self.procs[gateway].pid)
            target = f"; target <= 150 MB: {verdict(mb <= 150)}" if gateway.startswith("cardhub") else ""
            print(f"  {gateway}: {mb:.0f} MB{target}")

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(10)


def sizes() -> None:
    plugin = len((HIVE_DIR / "agency-auth.ts").read_text().splitlines())
    manifests = Path(__file__).parents[1] / "connectors" / "manifests"
    ours = {f.stem: len(f.read_text().splitlines()) for f in sorted(manifests.glob("*.toml"))}
    print(f"\nAgency auth on Hive's side: benchmarks/hive/agency-auth.ts, {plugin} lines for the three styles;")
    print(f"  cardhub's five manifests (auth, resources and mapping): {sum(ours.values())} lines"
          f" ({', '.join(f'{k} {v}' for k, v in ours.items())})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench (peer comparison)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved wrk rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=60, help="sequential requests at 100 ms agency latency")
    parser.add_argument("--citizens", type=int, default=8, help="personas the requests take in turn")
    args = parser.parse_args()
    started = time.monotonic()
    reason = missing_tools()
    if reason:
        print(f"Peer comparison with Hive Gateway: skipped ({reason})")
        return
    cards = [p.card_number for p in PERSONAS[: args.citizens]]
    workdir = Path(tempfile.mkdtemp(prefix="cardhub-peer-"))
    bench = Bench(args, runner.start(ephemeral=True), workdir)
    try:
        bench.start(cards)
        print(f"Peer comparison: Hive Gateway 2.15.1 and cardhub on the same five sandbox agencies, "
              f"wrk -c{args.connections} on core 1, each gateway on core 0")  # fmt: skip
        bench.targets(bench.table())
        bench.fan_out(cards[0])
        bench.memory()
        sizes()
    finally:
        bench.stop()
        bench.sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"(the peer comparison took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
