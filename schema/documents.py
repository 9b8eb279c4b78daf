"""Registered documents, parsed and validated once per process.

The text comes from ``auth.documents`` (the operator registered it); here it becomes a DocumentNode,
checked against the schema with the hub's own rules (depth, aliases, directives), and kept. A request
that names it by ``documentId`` skips parsing and validation (schema/extensions/trusted_documents.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules, validate

MAX_PREPARED = 10_000  # documents kept parsed; past it the least recently used is parsed again when asked


class DocumentInvalid(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class PreparedDocuments:
    def __init__(self, rules: Sequence[type[ASTValidationRule]] = ()) -> None:
        self.rules = (*specified_rules, *rules)
        self.schema: GraphQLSchema | None = None
        self._parsed: OrderedDict[str, DocumentNode] = OrderedDict()

    def bind(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def check(self, text: str) -> DocumentNode:
        """Parse and validate a document; DocumentInvalid names each problem."""
        assert self.schema is not None, "bind() the schema first"
        try:
            document = parse(text)
        except GraphQLError as exc:
            raise DocumentInvalid([exc.message]) from None
        errors = validate(self.schema, document, self.rules)
        if errors:
            raise DocumentInvalid([e.message for e in errors])
        return document

    def prepare(self, text: str) -> DocumentNode:
        """The document, parsed and validated the first time it is asked for (or after eviction)."""
        document = self._parsed.get(text)
        if document is None:
            document = self.check(text)
            self._parsed[text] = document
            if len(self._parsed) > MAX_PREPARED:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(text)
        return document

    def parsed(self, text: str | None) -> DocumentNode | None:
        return None if text is None else self._parsed.get(text)
