"""Spans for each operation and resolver (strawberry's OpenTelemetry extension), when tracing is on.

Resolver arguments are left out of the spans: they carry card numbers. Off (no tracer provider), the
extension is not added at all, so a resolver pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from telemetry import tracing


def no_arguments(args: dict[str, Any], info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
    return {}


def tracing_extensions() -> list[Callable[[], SchemaExtension]]:
    if not tracing.enabled():
        return []
    return [partial(OpenTelemetryExtension, arg_filter=no_arguments)]
