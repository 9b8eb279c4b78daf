"""Traces: off by default; on, one full-profile query is one trace with a span for each agency called;
a collector that is away never slows or fails a request, and its failures are counted and logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import REGISTRY

from connectors.domain import AGENCY_IDS
from hub.observability import tracing
from sandbox import runner
from sandbox.personas import PERSONAS
from telemetry.tracing import AGENCY

ROOT = Path(__file__).resolve().parents[3]


def test_tracing_is_off_unless_the_otel_variables_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    assert not tracing.requested()
    assert tracing.configure() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert tracing.requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing.requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.requested()


@pytest.mark.slow
def probe(sandbox: runner.Sandbox, tmp_path: Path, collector_down: bool = False) -> dict[str, Any]:
    args = {"urls": sandbox.urls, "database": f"sqlite://{tmp_path / 'hub.sqlite3'}", "card": PERSONAS[0].card_number,
            "collector_down": collector_down}  # fmt: skip
    env = dict(os.environ)
    if collector_down:
        env |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{runner.free_port()}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
        }
    done = subprocess.run(
        [sys.executable, "-m", "tests.hub.observability.trace_probe", json.dumps(args)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_one_full_profile_query_is_one_trace_with_a_span_for_each_agency(
    sandbox: runner.Sandbox, tmp_path: Path
) -> None:
    spans = probe(sandbox, tmp_path)["spans"]
    assert len({s["trace_id"] for s in spans}) == 1, {s["name"] for s in spans}
    names = {s["name"] for s in spans}
    assert any(n.startswith("POST /graphql") for n in names), names  # the request (Starlette)
    assert "GraphQL Query: Profile" in names  # the operation (strawberry)
    assert {s["attributes"][AGENCY] for s in spans if AGENCY in s["attributes"]} == set(AGENCY_IDS)
    # No card number in any span: not in resolver arguments, not in agency URLs.
    assert PERSONAS[0].card_number not in json.dumps(spans)


@pytest.mark.slow
def test_a_collector_that_is_away_neither_slows_nor_fails_a_request(sandbox: runner.Sandbox, tmp_path: Path) -> None:
    result = probe(sandbox, tmp_path, collector_down=True)
    assert result["seconds"] < 1.5  # the query answered as usual (its spans wait in the batch queue)
    assert result["export_failures"] > 0  # and their loss was counted


class Down(SpanExporter):
    def __init__(self, fail_with: Exception | None) -> None:
        self.fail_with = fail_with

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.fail_with is not None:
            raise self.fail_with
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def failures() -> float:
    return REGISTRY.get_sample_value("cardhub_telemetry_export_failures_total", {"exporter": "traces"}) or 0.0


def test_failed_exports_are_counted_and_logged_at_most_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    exporter = tracing.CountingExporter(Down(ConnectionRefusedError("collector away")))
    before = failures()
    spans: list[ReadableSpan] = [ReadableSpan("a"), ReadableSpan("b")]
    with caplog.at_level(logging.WARNING, logger="cardhub.tracing"):
        for _ in range(5):
            assert exporter.export(spans) is SpanExportResult.FAILURE
        assert tracing.CountingExporter(Down(None)).export(spans) is SpanExportResult.FAILURE
    assert failures() - before == 12
    lines = [r.getMessage() for r in caplog.records if r.name == "cardhub.tracing"]
    assert len(lines) == 2  # one per exporter within the minute, however many batches failed
    assert "ConnectionRefusedError" in lines[0]
