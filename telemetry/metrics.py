"""The hub's Prometheus metrics, one definition each, and the functions the code records them with.

Labels are bounded: agency, section, scope, grant type and outcome come from fixed catalogues, and a
label a client can choose (a GraphQL operation name) is cleaned and capped per process, so a client
cannot grow the series without limit. Recording never raises and never waits: a counter is a memory
(or, with several workers, an mmap'd file) write.
"""

from __future__ import annotations

import re
import threading

from prometheus_client import Counter, Gauge, Histogram

# Seconds: a request or an agency call is expected well under a second; budgets end at 15 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
OTHER = "other"
MAX_OPERATIONS = 200  # distinct operation names per process; later ones are counted as "other"

GRAPHQL_REQUESTS = Counter(
    "cardhub_graphql_requests", "GraphQL operations by operation name and outcome code", ["operation", "outcome"]
)
GRAPHQL_SECONDS = Histogram(
    "cardhub_graphql_request_seconds", "GraphQL operation latency", ["operation"], buckets=LATENCY_BUCKETS
)
HTTP_REQUESTS = Counter("cardhub_http_requests", "HTTP requests by route and status", ["route", "method", "status"])
HTTP_SECONDS = Histogram("cardhub_http_request_seconds", "HTTP request latency by route", ["route"],
                         buckets=LATENCY_BUCKETS)  # fmt: skip
AGENCY_CALLS = Counter("cardhub_agency_calls", "Calls to agency systems by agency and outcome", ["agency", "outcome"])
AGENCY_SECONDS = Histogram("cardhub_agency_call_seconds", "Agency call latency", ["agency"], buckets=LATENCY_BUCKETS)
CIRCUIT_OPEN = Gauge(
    "cardhub_circuit_open", "1 while a section's agency is being spared (circuit open)", ["section"],
    multiprocess_mode="livemax",
)  # fmt: skip
CACHE_EVENTS = Counter(
    "cardhub_cache_events", "Section cache: hit, miss, stale (served), backend_error, circuit_refusal", ["event"]
)
CONSENT_DECISIONS = Counter(
    "cardhub_consent_decisions", "Access decisions on citizen data by scope and outcome", ["scope", "outcome"]
)
TOKEN_REQUESTS = Counter(
    "cardhub_oauth_token_requests", "Token endpoint answers by grant type and outcome", ["grant_type", "outcome"]
)
LOGIN_FAILURES = Counter("cardhub_login_failures", "Failed citizen logins by reason", ["reason"])
AUDIT_APPEND_SECONDS = Histogram("cardhub_audit_append_seconds", "Writing a request's access records",
                                 buckets=FAST_BUCKETS)  # fmt: skip
AUDIT_LAG = Gauge(
    "cardhub_audit_sequencer_lag_seconds", "Age of the oldest access record not yet in the Merkle tree",
    multiprocess_mode="livemax",
)  # fmt: skip
AUDIT_PENDING = Gauge("cardhub_audit_pending_records", "Access records not yet in the Merkle tree",
                      multiprocess_mode="livemax")  # fmt: skip
DB_POOL = Gauge(
    "cardhub_db_pool_connections", "Database pool connections: size (open), idle, max", ["state"],
    multiprocess_mode="livesum",
)  # fmt: skip
EXPORT_FAILURES = Counter(
    "cardhub_telemetry_export_failures", "Spans or other telemetry that could not be exported", ["exporter"]
)

GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
_NAME = re.compile(r"[^A-Za-z0-9_:.-]")
_operations: set[str] = set()
_operations_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """A client-chosen operation name as a label: cleaned, at most 64 characters, capped per process."""
    if not name:
        return "anonymous"
    label = _NAME.sub("_", name)[:64]
    with _operations_lock:
        if label in _operations:
            return label
        if len(_operations) >= MAX_OPERATIONS:
            return OTHER
        _operations.add(label)
    return label


def graphql_request(operation: str | None, outcome: str, seconds: float) -> None:
    label = operation_label(operation)
    GRAPHQL_REQUESTS.labels(label, _NAME.sub("_", outcome)[:40]).inc()
    GRAPHQL_SECONDS.labels(label).observe(seconds)


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_SECONDS.labels(route).observe(seconds)


def agency_call(agency: str, outcome: str, seconds: float | None = None) -> None:
    """One call to an agency; ``outcome`` is "ok" or the failure's code. No latency: refused before sending."""
    AGENCY_CALLS.labels(agency, outcome).inc()
    if seconds is not None:
        AGENCY_SECONDS.labels(agency).observe(seconds)


def circuit(section: str, is_open: bool) -> None:
    CIRCUIT_OPEN.labels(section).set(1 if is_open else 0)


def cache_event(event: str) -> None:
    CACHE_EVENTS.labels(event).inc()


def consent_decision(scope: str, outcome: str) -> None:
    CONSENT_DECISIONS.labels(scope, outcome).inc()


def token_request(grant_type: str, outcome: str) -> None:
    """``outcome``: "issued" or the OAuth error code (RFC 6749 5.2)."""
    TOKEN_REQUESTS.labels(grant_type if grant_type in GRANT_TYPES else OTHER, _NAME.sub("_", outcome)[:40]).inc()


def login_failure(reason: str) -> None:
    """``reason``: "password" (wrong or unknown), "throttled", or the upstream provider's refusal code."""
    LOGIN_FAILURES.labels(reason).inc()


def audit_appended(seconds: float) -> None:
    AUDIT_APPEND_SECONDS.observe(seconds)


def audit_sequencer(lag_seconds: float, pending: int) -> None:
    """The access log's sequencer, after each look at what is waiting (auth/audit/sequencer.py)."""
    AUDIT_LAG.set(lag_seconds)
    AUDIT_PENDING.set(pending)


def db_pool(size: int, idle: int, maximum: int) -> None:
    DB_POOL.labels("size").set(size)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("max").set(maximum)


def export_failure(exporter: str, count: int = 1) -> None:
    EXPORT_FAILURES.labels(exporter).inc(count)
