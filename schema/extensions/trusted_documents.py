"""Registered documents skip parsing and validation: they were parsed and validated once already.

These take the place of strawberry's ParserCache and ValidationCache: a document the view prepared
(``schema.documents``) is used as it is, and its validation is skipped; any other text is parsed and
validated through the shared LRU caches as before. The cost limit still applies to both, since it
depends on the request's variables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache

from schema.documents import PreparedDocuments


class DocumentParser(ParserCache):
    def __init__(self, documents: PreparedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        prepared = self.documents.parsed(context.query)
        if prepared is not None:
            context.graphql_document = prepared
        else:
            try:
                context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
            except GraphQLError:
                # Left to strawberry's own parse, which turns the error into a result the operation's
                # extensions see (TokenLimit codes it); the cache raised out of the hook, where none would.
                context.graphql_document = None
        yield


class DocumentValidator(ValidationCache):
    def __init__(self, documents: PreparedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        prepared = self.documents.parsed(context.query)
        if prepared is None or prepared is not context.graphql_document:
            yield from super().on_validate()
            return
        context.pre_execution_errors = []  # validated when prepared; strawberry validates only while None
        yield


def trusted_documents(documents: PreparedDocuments) -> list[Callable[[], ParserCache | ValidationCache]]:
    return [partial(DocumentParser, documents), partial(DocumentValidator, documents)]
