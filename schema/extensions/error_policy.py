"""What clients see of errors: typed hub errors as they are, everything else masked.

GraphQL syntax and validation errors are the client's own mistake and keep their message; the
transport codes them with ``schema.errors.code_request_errors`` (strawberry returns a parse error
before any operation hook could see it). An unexpected exception is replaced by
"Unexpected error." with code INTERNAL; its traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from schema.errors import HubError

log = logging.getLogger("cardhub.graphql")


def request_id(context: object) -> str:
    return str(getattr(context, "request_id", "-"))


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None) if result is not None else None
        if errors:
            result.errors = [self._classified(e) for e in errors]  # type: ignore[union-attr]

    def _classified(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, HubError):
            return error  # a hub error, or the request's own mistake (coded by code_request_errors)
        log.error(
            "unexpected error at %s request_id=%s",
            ".".join(map(str, error.path or [])),
            request_id(self.execution_context.context),
            exc_info=original,
        )
        return GraphQLError(
            "Unexpected error.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )
