"""OpenTelemetry traces: off unless the standard OTEL_* variables ask for them.

On when ``OTEL_TRACES_EXPORTER`` is ``otlp`` (OTLP over HTTP/protobuf) or ``console``, or when it is
unset and ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set; off with
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. Everything else (service name, sampler,
headers, timeouts, batch sizes) is the SDK's own reading of its variables.

Then each request gets a span (Starlette), each GraphQL operation and resolver one (strawberry,
schema/extensions/tracing.py), each agency call one (telemetry/tracing.py) with the aiohttp, asyncpg
and redis calls under them. Spans leave through a batch processor: a request only puts its spans in a
bounded queue (full: they are dropped), and a background thread exports them, so a collector that is
away or slow never slows or fails a request. Failed exports are counted
(``cardhub_telemetry_export_failures_total``) and logged at most once a minute.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence

import yarl
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from starlette.applications import Starlette

from telemetry import metrics
from telemetry import tracing as spans

log = logging.getLogger("cardhub.tracing")

LOG_EVERY_SECONDS = 60.0
UNTRACED_ROUTES = "healthz,readyz,metrics"  # probes and scrapes: many, and of no interest
_NUMBERS = re.compile(r"\d{6,}")


def requested() -> bool:
    """Whether the OTEL_* variables ask for traces."""
    env = os.environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter in ("otlp", "console")
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install the SDK and the library instrumentations, once per process; None when tracing is off.

    ``exporter``: where spans go instead of the one the variables name (tests pass an in-memory one).
    """
    if exporter is None and not requested():
        return None
    if spans.enabled():  # already, in this process
        provider = trace.get_tracer_provider()
        return provider if isinstance(provider, TracerProvider) else None
    os.environ.setdefault("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", UNTRACED_ROUTES)
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "cardhub"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(CountingExporter(exporter or _from_environment())))
    trace.set_tracer_provider(provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider, url_filter=without_numbers)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)
    log.info("tracing on: spans go to %s", type(exporter).__name__ if exporter else _exporter_name())
    return provider


def instrument_app(app: Starlette) -> None:
    """A span per request (the outermost middleware), when tracing is on."""
    if spans.enabled():
        StarletteInstrumentor.instrument_app(app, tracer_provider=trace.get_tracer_provider())  # type: ignore[arg-type]


def without_numbers(url: yarl.URL) -> str:
    """An agency URL as a span may keep it: no query string, and no long numbers (card numbers) in the path."""
    return _NUMBERS.sub("{n}", str(url.with_query(None).with_fragment(None)))


def _exporter_name() -> str:
    return os.environ.get("OTEL_TRACES_EXPORTER", "otlp") or "otlp"


def _from_environment() -> SpanExporter:
    if _exporter_name() == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class CountingExporter(SpanExporter):
    """Counts the spans an exporter failed to send, and says so in the log at most once a minute."""

    def __init__(self, inner: SpanExporter, name: str = "traces") -> None:
        self.inner = inner
        self.name = name
        self._lock = threading.Lock()
        self._unlogged = 0
        self._logged_at = float("-inf")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter must never take the batch thread down with it
            self._failed(len(spans), type(exc).__name__)
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._failed(len(spans), "export refused or unreachable")
        return result

    def _failed(self, count: int, why: str) -> None:
        metrics.export_failure(self.name, count)
        with self._lock:
            self._unlogged += count
            now = time.monotonic()
            if now - self._logged_at < LOG_EVERY_SECONDS:
                return
            lost, self._unlogged, self._logged_at = self._unlogged, 0, now
        log.warning("could not export %d %s spans (%s); counted in cardhub_telemetry_export_failures_total "
                    "and logged at most once a minute", lost, self.name, why)  # fmt: skip

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
