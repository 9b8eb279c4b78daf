"""How much of the schema the hub reveals: introspection and "Did you mean ...?" suggestions.

In production both are off, except for the operator's developer clients (``developer_clients``).
The rule that refuses introspection is built once, so the validation cache keeps working: a
document is validated once with it and once without.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import FieldNode, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from auth.principal import Principal
from schema.errors import IntrospectionDisabled

_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Disclosure:
    production: bool = False
    developer_clients: frozenset[str] = frozenset()

    def reveals(self, principal: Principal | None) -> bool:
        return not self.production or (principal is not None and principal.client_id in self.developer_clients)


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    def report_error(self, error: GraphQLError) -> None:
        super().report_error(IntrospectionDisabled("introspection is disabled on this hub"))

    def enter_field(self, node: FieldNode, *args: Any) -> None:
        if node.name.value in ("__schema", "__type"):  # one error per document is enough
            super().enter_field(node, *args)


class SchemaDisclosure(SchemaExtension):
    def __init__(self, disclosure: Disclosure) -> None:
        self.disclosure = disclosure

    def on_operation(self) -> Iterator[None]:
        principal = getattr(self.execution_context.context, "principal", None)
        if not self.disclosure.reveals(principal):
            self.execution_context.validation_rules = (*self.execution_context.validation_rules, NoIntrospection)
        yield


def schema_disclosure(disclosure: Disclosure) -> Callable[[], SchemaDisclosure]:
    return partial(SchemaDisclosure, disclosure)


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)
