"""The hub's log lines: structlog over the standard library, so every logger's lines (the hub's,
uvicorn's, aiohttp's, authlib's) come out in one format, JSON in production and text in the sandbox.

Every line of a request carries its ``request_id`` and, when tracing is on (or the caller sent a W3C
``traceparent``), its ``trace_id`` (hub/observability/requests.py binds them). No secret reaches a
line: values under secret-sounding keys are dropped, and each line's text is scrubbed of bearer and
basic credentials, the hub's own tokens and client secrets (``chb_``, ``chr_``, ``chs_``), JWTs,
passwords in URLs and secret query or form parameters (``code``, ``password``, ``*_token``, ...),
including the query strings of uvicorn's access lines.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({
    "password", "secret", "client_secret", "token", "access_token", "refresh_token", "id_token",
    "authorization", "cookie", "code_verifier", "assertion", "client_assertion", "session_secret",
})  # fmt: skip
_SECRET_PARAMS = (
    r"access_token|refresh_token|id_token|token|code|code_verifier|client_secret|client_assertion|assertion"
    r"|password|passwd|secret|session|cardhub_session|logout_hint|id_token_hint"
)
SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"\b(ch[brs]_)[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),  # a JWT (JWS compact)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"), rf"\1{REDACTED}@"),  # user:password@host
    (re.compile(rf"(?i)(?<![A-Za-z0-9_])({_SECRET_PARAMS})=[^&\s\"',;)]+"), rf"\1={REDACTED}"),
    (re.compile(rf"(?i)(['\"]({_SECRET_PARAMS})['\"]\s*:\s*)(['\"])[^'\"]*\3"), rf"\1\3{REDACTED}\3"),
)


def scrub(text: str) -> str:
    for pattern, replacement in SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def scrub_event(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if key.lower() in SECRET_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif value is not None and not isinstance(value, int | float | bool):
            event[key] = scrub(str(value))
    return event


def add_trace_ids(logger: WrappedLogger, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The current span's ids, when tracing is on; a ``trace_id`` bound from ``traceparent`` stays otherwise."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def format_for(log_format: str, sandbox: bool) -> str:
    return log_format or ("text" if sandbox else "json")


def configure(level: str, log_format: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Route every logger through one handler on the root logger (replacing any); return the handler."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,  # type: ignore[list-item]
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # the traceback becomes text, and is scrubbed with the rest
                scrub_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _quiet(QUIET)
    return handler


# strawberry logs every GraphQL error with a traceback (the hub's ErrorPolicy logs what matters); the
# OpenTelemetry exporters log each failed export, which hub/observability/tracing.py counts and logs
# itself, rate-limited.
QUIET: Mapping[str, int] = {
    "strawberry.execution": logging.CRITICAL,
    "opentelemetry.exporter": logging.CRITICAL,
    "opentelemetry.sdk.trace.export": logging.CRITICAL,
}


def _quiet(levels: Mapping[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
