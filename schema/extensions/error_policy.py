"""What clients see of errors: typed hub errors as they are, everything else masked.

GraphQL syntax and validation errors are the client's own mistake and keep their message (with
code GRAPHQL_PARSE_FAILED or GRAPHQL_VALIDATION_FAILED). An unexpected exception is replaced by
"Unexpected error." with code INTERNAL; its traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from schema.errors import HubError

log = logging.getLogger("cardhub.graphql")


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None) if result is not None else None
        if errors:
            result.errors = [self._classified(e) for e in errors]  # type: ignore[union-attr]

    def _classified(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, HubError) or (original is None and (error.extensions or {}).get("code")):
            return error
        if original is None:
            # Parse or validation error: the query itself is wrong, say so.
            code = "GRAPHQL_PARSE_FAILED" if "Syntax Error" in error.message else "GRAPHQL_VALIDATION_FAILED"
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": code},
            )
        log.error("unexpected error at %s", ".".join(map(str, error.path or [])), exc_info=original)
        return GraphQLError(
            "Unexpected error.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )
