"""A cost limit before execution, in the spirit of the IBM cost directives (``@cost``, ``@listSize``).

A field costs the number of times it can be resolved: 1 under the root, times the page size of
every list above it. A list field's page size is the ``first`` it asks for (a literal or a
variable), else its argument's default, else the hub's default page size. So
``trips(first: 100) { nodes { line } }`` costs 100 + 100 + 100. Over ``max_cost``, the request gets
COST_LIMIT_EXCEEDED and nothing runs. In sandbox mode the cost is reported in ``extensions.cost``.

The check runs in the validation step after the document's validation (it must come after the
validation cache in the extension list), and only on a valid document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from schema.errors import CostLimitExceeded


class _Cost:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], default_page_size: int) -> None:  # fmt: skip
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size

    def of(self, selections: SelectionSetNode | None, parent: GraphQLNamedType | None, times: int,
           seen: frozenset[str] = frozenset()) -> int:  # fmt: skip
        total = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                field = (
                    parent.fields.get(node.name.value)
                    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    else None
                )
                size = self._page_size(node, field.args.get("first") if field else None)
                child = get_named_type(field.type) if field else None
                total += times * size + self.of(node.selection_set, child, times * size, seen)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.of(node.selection_set, target, times, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.of(fragment.selection_set, target, times, seen | {node.name.value})
        return total

    def _page_size(self, node: FieldNode, first: Any) -> int:
        if first is None:
            return 1  # not a paginated list
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 1)
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return max(int(self.variables[value.name.value]), 1)
        default = first.default_value
        return default if isinstance(default, int) and default > 0 else self.default_page_size


def document_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                  fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any],
                  default_page_size: int) -> int:  # fmt: skip
    root = schema.get_root_type(operation.operation)
    return _Cost(schema, fragments, variables, default_page_size).of(operation.selection_set, root, 1)


class CostLimit(SchemaExtension):
    def __init__(self, max_cost: int, default_page_size: int, report: bool) -> None:
        self.max_cost = max_cost
        self.default_page_size = default_page_size
        self.report = report
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:  # an invalid document: its errors first
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            self.cost = sum(
                document_cost(context.schema._schema, op, fragments, context.variables or {}, self.default_page_size)
                for op in operations
                if context.operation_name is None or (op.name is not None and op.name.value == context.operation_name)
            )
            if self.cost > self.max_cost:
                refusal = CostLimitExceeded(
                    f"this query could cost {self.cost}, over the limit of {self.max_cost}: ask for smaller pages "
                    "(first) or fewer fields",
                    cost=self.cost,
                    max=self.max_cost,
                )
                context.pre_execution_errors = [*(context.pre_execution_errors or []), refusal]
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost} if self.report and self.cost is not None else {}


def cost_limit(max_cost: int, default_page_size: int, report: bool) -> Callable[[], CostLimit]:
    return partial(CostLimit, max_cost, default_page_size, report)
