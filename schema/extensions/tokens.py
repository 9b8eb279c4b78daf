"""A bound on the document's tokens, enforced while it is lexed.

graphql-core stops lexing at ``max_tokens``, so a huge document costs a bounded amount of work (the
review's 2 MiB query held the event loop for 8.4 s). strawberry's MaxTokensLimiter sets the bound;
this gives its syntax error the code TOO_MANY_TOKENS instead of GRAPHQL_PARSE_FAILED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from graphql import GraphQLSyntaxError
from strawberry.extensions import MaxTokensLimiter

from schema.errors import TooManyTokens


class TokenLimit(MaxTokensLimiter):
    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        result = self.execution_context.result
        for error in (result.errors if result is not None else None) or ():
            if isinstance(error, GraphQLSyntaxError) and "tokens. Parsing aborted" in error.message:
                error.extensions = {**(error.extensions or {}), "code": TooManyTokens.code}


def token_limit(max_tokens: int) -> Callable[[], TokenLimit]:
    return partial(TokenLimit, max_token_count=max_tokens)
