"""The schema, assembled once per process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.documents import PreparedDocuments
from schema.extensions.audit_trail import AuditTrail
from schema.extensions.cost import cost_limit
from schema.extensions.disclosure import Disclosure, schema_disclosure
from schema.extensions.error_policy import ErrorPolicy, request_id
from schema.extensions.limits import limit_rules, limits
from schema.extensions.metrics import OperationMetrics
from schema.extensions.sequenced import sequenced
from schema.extensions.tokens import token_limit
from schema.extensions.tracing import tracing_extensions
from schema.extensions.trusted_documents import trusted_documents
from schema.mutation import Mutation
from schema.query import Query
from schema.types.common import MONEY_SCALAR, Money

log = logging.getLogger("cardhub.graphql")


@dataclass(frozen=True, slots=True)
class Limits:
    """The edge's limits on a document (docs/security.md); hub/settings.py holds the configured values."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_directives: int = 10
    max_cost: int = 10_000
    default_page_size: int = 20
    report_cost: bool = False  # extensions.cost in every response (sandbox mode)
    disclosure: Disclosure = field(default_factory=Disclosure)


class HubSchema(strawberry.Schema):
    documents: PreparedDocuments  # registered documents, parsed and validated once

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


def build_schema(max_depth: int = 12, max_aliases: int = 30, edge: Limits | None = None, **kwargs: Any) -> HubSchema:
    edge = edge or Limits(max_depth=max_depth, max_aliases=max_aliases)
    rules = limit_rules(edge.max_depth, edge.max_aliases, edge.max_directives)
    documents = PreparedDocuments(rules)
    schema = HubSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            OperationMetrics,  # first: it times all the others and sees the result they leave
            *tracing_extensions(),
            AuditTrail,
            # Small synchronous per-request hooks, run as one (schema/extensions/sequenced.py).
            sequenced([ErrorPolicy, token_limit(edge.max_tokens), schema_disclosure(edge.disclosure), limits(rules)]),
            *trusted_documents(documents),  # parse and validate, through caches
            cost_limit(edge.max_cost, edge.default_page_size, edge.report_cost),  # after validation
        ],
        config=StrawberryConfig(scalar_map={Money: MONEY_SCALAR}),
        **kwargs,
    )
    documents.bind(schema._schema)
    schema.documents = documents
    return schema
