"""/metrics: what it counts, who may read it, and one truthful set from several workers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from hub.observability.metrics import MetricsEndpoint, multiprocess_dir
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.cache.conftest import redis_running
from tests.conftest import RunningHub
from tests.hub.test_instances import CARDHUB, Hub
from tests.production import production_env

OPERATOR_TOKEN = "o" * 40
FULL = """query Profile { me { socialSecurity { medicalAccountBalance } transit { balance }
  health { healthCardNumber } housingFund { balance } library { fines } } }"""


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(hub: RunningHub) -> str:
    async with hub.http.get(hub.url + "/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_a_query_is_counted_by_operation_outcome_agency_and_consent(hub: RunningHub) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    before = await scrape(hub)
    status, body = await hub.graphql(FULL, token)
    assert status == 200 and not body.get("errors"), body
    await hub.graphql("query Broken { me { nope } }", token)
    after = await scrape(hub)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("cardhub_graphql_requests_total", operation="Profile", outcome="OK") == 1
    assert grew("cardhub_graphql_requests_total", operation="Broken", outcome="GRAPHQL_VALIDATION_FAILED") == 1
    assert grew("cardhub_graphql_request_seconds_count", operation="Profile") == 1
    for agency in ("social_security", "transit", "health", "housing_fund", "library"):
        assert grew("cardhub_agency_calls_total", agency=agency, outcome="ok") >= 1, agency
        assert grew("cardhub_consent_decisions_total", scope=agency, outcome="ALLOWED") == 1, agency
    assert grew("cardhub_audit_append_seconds_count") == 1
    assert grew("cardhub_http_requests_total", route="/graphql", method="POST", status="200") == 2


async def test_token_requests_and_login_failures_are_counted(hub: RunningHub) -> None:
    before = await scrape(hub)
    async with hub.http.post(hub.url + "/oauth/token", data={"grant_type": "client_credentials",
                             "client_id": "nobody", "client_secret": "x"}) as resp:  # fmt: skip
        assert resp.status in (400, 401)
        error = (await resp.json())["error"]
    async with hub.http.post(hub.url + "/oauth/token", data={"grant_type": "made_up_" + "x" * 50}) as resp:
        assert resp.status >= 400
    async with hub.http.post(hub.url + "/login", data={"username": "a", "password": "b"}) as resp:
        pass  # refused without a CSRF token: not a login failure
    after = await scrape(hub)
    grant = (
        "cardhub_oauth_token_requests_total",
        frozenset({"grant_type": "client_credentials", "outcome": error}.items()),
    )
    assert samples(after)[grant] - samples(before).get(grant, 0) == 1
    # A client-chosen grant type is no label of its own.
    assert not any(labels and dict(labels).get("grant_type", "").startswith("made_up") for _, labels in samples(after))


async def test_metrics_answer_loopback_and_the_operator_token_only(hub: RunningHub) -> None:
    endpoint = MetricsEndpoint()

    async def remote(authorization: str | None, configured: str) -> int:
        saved = hub.app.state.settings
        hub.app.state.settings = replace(saved, operator_token=configured)
        sent: list[dict[str, object]] = []
        headers = [(b"authorization", authorization.encode())] if authorization else []
        scope = {"type": "http", "method": "GET", "path": "/metrics", "query_string": b"", "headers": headers,
                 "client": ("10.0.0.5", 41000), "app": hub.app, "root_path": ""}  # fmt: skip

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        try:
            await endpoint(scope, receive, send)  # type: ignore[arg-type]
        finally:
            hub.app.state.settings = saved
        status = sent[0]["status"]
        assert isinstance(status, int)
        return status

    assert await remote(None, OPERATOR_TOKEN) == 401
    assert await remote("Bearer wrong-" + "x" * 40, OPERATOR_TOKEN) == 401
    assert await remote("Bearer ", "") == 401  # no operator token configured: loopback only
    assert await remote(f"Bearer {OPERATOR_TOKEN}", OPERATOR_TOKEN) == 200
    assert isinstance(Request({"type": "http", "headers": []}), Request)


def test_multiprocess_dir_is_set_emptied_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with multiprocess_dir(1) as none:
        assert none is None and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with multiprocess_dir(2) as made:
        assert made is not None and os.environ["PROMETHEUS_MULTIPROC_DIR"] == made
    assert not Path(made).exists() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_999.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    with multiprocess_dir(2) as kept:
        assert kept == str(given) and not list(given.glob("*.db"))
    assert given.exists()


# --- production: PostgreSQL, Redis, two workers ---------------------------------------------------


@pytest.fixture
def production(postgres_url: str, sandbox: runner.Sandbox, tmp_path: Path) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    env = {
        **os.environ, **production_env(),
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/14",
        "CARDHUB_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **{f"CARDHUB_AGENCY_{a.upper()}_URL": u for a, u in sandbox.urls.items()},
    }  # fmt: skip
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_1.db").write_bytes(b"a past run's file: must not count")
    subprocess.run([CARDHUB, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    yield env


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
async def test_two_workers_report_one_truthful_set_in_production(production: dict[str, str], tmp_path: Path) -> None:
    hub = WorkersHub(production, tmp_path / "hub.log")
    try:
        await asyncio.to_thread(hub.wait_ready)
        await workers_up(tmp_path / "metrics", 2)
        assert not (tmp_path / "metrics" / "counter_1.db").exists()  # a past run's counts are not this one's
        healthz = ("cardhub_http_requests_total", {"route": "/healthz", "method": "GET", "status": "200"})
        ready = value(get(hub.url + "/metrics")[1], healthz[0], **healthz[1])
        assert ready >= 1, get(hub.url + "/metrics")[1]  # wait_ready's own
        sent = 0
        pids: set[str] = set()
        while len(pids) < 2 and sent < 400:  # bursts of parallel connections, until both workers took some
            ids = [f"w-{sent + i}" for i in range(20)]
            answers = await asyncio.gather(*(asyncio.to_thread(get, hub.url + "/healthz", {"X-Request-Id": i})
                                             for i in ids))  # fmt: skip
            assert all(status == 200 for status, _ in answers)
            sent += len(ids)
            pids = {re.sub(r"\D", "", f.name) for f in (tmp_path / "metrics").glob("counter_*.db")}
        assert len(pids) >= 2, "both workers served requests"
        for _ in range(6):  # whichever worker answers, the same sum
            status, text = get(hub.url + "/metrics")
            assert status == 200
            assert value(text, healthz[0], **healthz[1]) == ready + sent
            assert value(text, "cardhub_db_pool_connections", state="max") > 0  # asyncpg's pool, every worker
        # Off the machine (a proxy on loopback says who asked): the operator token only.
        remote = {"X-Forwarded-For": "10.0.0.5"}
        assert get(hub.url + "/metrics", remote)[0] == 401
        assert get(hub.url + "/metrics", {**remote, "Authorization": f"Bearer {OPERATOR_TOKEN}"})[0] == 200
    finally:
        hub.stop()
    # Production logs JSON; each request's lines carry its id.
    lines = [json.loads(line) for line in hub.log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "uvicorn.access" and "/healthz" in line["event"]]
    assert all(line.get("request_id") for line in access)
    assert {line["request_id"] for line in access if line["request_id"].startswith("w-")} == {
        f"w-{i}" for i in range(sent)
    }


async def workers_up(directory: Path, count: int) -> None:
    """Each worker, once started, samples its database pool into a file named after its pid."""
    for _ in range(600):
        if len(await asyncio.to_thread(lambda: list(directory.glob("gauge_livesum_*.db")))) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} workers started")


class WorkersHub(Hub):
    """``cardhub serve --workers 2``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = runner.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [CARDHUB, "serve", "--port", str(self.port), "--workers", "2"],
                env={**env, "CARDHUB_LOG_LEVEL": "INFO"}, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        self.started = time.monotonic()
