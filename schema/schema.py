"""The schema, assembled once per process."""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.extensions.audit_trail import AuditTrail
from schema.extensions.error_policy import ErrorPolicy, request_id
from schema.extensions.limits import limits
from schema.mutation import Mutation
from schema.query import Query
from schema.types.common import MONEY_SCALAR, Money

log = logging.getLogger("cardhub.graphql")


class HubSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors (consent, agency down, bad input) are routine: one line each, no traceback.
        # Unexpected ones were already logged with their traceback by ErrorPolicy.
        for error in errors:
            code = (error.extensions or {}).get("code", "INTERNAL")
            log.info(
                "graphql error %s at %s request_id=%s: %s",
                code,
                ".".join(map(str, error.path or [])),
                request_id(execution_context.context if execution_context else None),
                error.message,
            )


def build_schema(max_depth: int = 12, max_aliases: int = 30, **kwargs: Any) -> HubSchema:
    return HubSchema(
        query=Query,
        mutation=Mutation,
        extensions=[AuditTrail, ErrorPolicy, ParserCache, ValidationCache, limits(max_depth, max_aliases)],
        config=StrawberryConfig(scalar_map={Money: MONEY_SCALAR}),
        **kwargs,
    )
