"""How a connector's recent agency calls went: for /readyz, ``Query.connectors`` and operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import Connector


@dataclass(frozen=True, slots=True)
class CallHealth:
    calls: int
    failures: int
    error_rate: float | None  # over the last (up to) 500 calls
    last_success_at: float | None  # unix time
    last_error: str | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failures": self.failures,
            "errorRate": None if self.error_rate is None else round(self.error_rate, 4),
            "lastSuccessAt": self.last_success_at,
            "lastError": self.last_error,
            "latencyP50Ms": self.latency_p50_ms,
            "latencyP95Ms": self.latency_p95_ms,
        }


def call_health(connector: Connector) -> CallHealth:
    stats = connector.client.stats
    p50, p95 = connector.client.latency_percentiles()
    return CallHealth(
        calls=stats.calls,
        failures=stats.failures,
        error_rate=stats.error_rate,
        last_success_at=stats.last_success_at,
        last_error=stats.last_error,
        latency_p50_ms=None if p50 is None else round(p50 * 1000, 1),
        latency_p95_ms=None if p95 is None else round(p95 * 1000, 1),
    )
