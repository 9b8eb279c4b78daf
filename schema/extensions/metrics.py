"""Counts each GraphQL operation by operation name and outcome, and times it (telemetry/metrics.py).

First among the schema's extensions, so it times everything the others do and sees the result they
leave: the errors as classified, the data withheld when the audit log could not be written. The
outcome is "OK", or the code of the first error (a partial result counts under its first error).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from telemetry import metrics


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "CANCELLED"  # the request's budget ran out, or its client went away
        try:
            yield
            outcome = outcome_of(self.execution_context.result)
        finally:
            metrics.graphql_request(self.execution_context.operation_name, outcome, time.perf_counter() - started)


def outcome_of(result: object) -> str:
    errors = getattr(result, "errors", None)
    if not errors:
        return "OK"
    first = errors[0]
    code = (getattr(first, "extensions", None) or {}).get("code")
    if code:
        return str(code)
    return "GRAPHQL_PARSE_FAILED" if isinstance(first, GraphQLSyntaxError) else "GRAPHQL_VALIDATION_FAILED"
