"""Spans around the hub's own units of work (an agency call), through the OpenTelemetry API.

With no tracer provider configured (the default: tracing is off) every span is a no-op that costs a
function call; ``hub/observability/tracing.py`` installs the SDK when the OTEL_* variables ask for it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

AGENCY = "cardhub.agency"


def agency_span(agency: str, method: str) -> AbstractContextManager[Span]:
    """The current span for one agency call, its retries and token refresh inside it.

    No path: an agency's paths carry card numbers, and a trace is no place for them.
    """
    tracer = trace.get_tracer("cardhub.connectors")
    attributes = {AGENCY: agency, "http.request.method": method}
    return tracer.start_as_current_span(f"agency {agency}", kind=SpanKind.CLIENT, attributes=attributes)


def enabled() -> bool:
    """Whether spans go anywhere (an SDK tracer provider is installed)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


__all__ = ["AGENCY", "Span", "agency_span", "enabled"]
