"""Run in a process of its own by test_tracing.py (a tracer provider is set once per process): a hub
with tracing on and an in-memory exporter answers one full-profile query; prints the spans as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
import uvicorn
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from auth.scopes import READ_SCOPES
from hub import sandbox_access
from hub.app import create_app
from hub.observability import tracing
from hub.server import EmbeddedServer, start_in_background
from hub.settings import Settings
from sandbox import runner

FULL = """query Profile { me { cardNumber socialSecurity { medicalAccountBalance } transit { balance }
  health { healthCardNumber } housingFund { balance } library { fines } } }"""


async def main(urls: dict[str, str], database: str, card: str, collector_down: bool) -> dict[str, Any]:
    """``collector_down``: spans go by OTLP to a port where nothing listens (from the OTEL_* variables)."""
    exporter = InMemorySpanExporter()
    provider = tracing.configure(None if collector_down else exporter)
    assert provider is not None
    settings = Settings(mode="sandbox", database_url=database, port=runner.free_port(), cache_url="off")
    app = create_app(settings.with_agencies({a: {"url": u} for a, u in urls.items()}))
    tracing.instrument_app(app)
    server = EmbeddedServer(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_config=None))
    task = await start_in_background(server)
    try:
        token = await sandbox_access.citizen_token(card, READ_SCOPES, 600)
        provider.force_flush()
        exporter.clear()  # only the query's spans
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.post(
            f"http://127.0.0.1:{settings.port}/graphql", json={"query": FULL},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:  # fmt: skip
            body = await resp.json()
            assert resp.status == 200 and not body.get("errors"), body
        seconds = time.monotonic() - started
        provider.force_flush()
    finally:
        server.should_exit = True
        await task
    spans = [
        {"name": s.name, "trace_id": format(s.context.trace_id, "032x"), "attributes": dict(s.attributes or {})}
        for s in exporter.get_finished_spans()
        if s.context is not None
    ]
    failed = REGISTRY.get_sample_value("cardhub_telemetry_export_failures_total", {"exporter": "traces"})
    return {"spans": spans, "seconds": seconds, "export_failures": failed or 0.0}


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(main(args["urls"], args["database"], args["card"], args["collector_down"]))))
