"""A bound on the directives at one place in a document, as a validation rule built once.

graphql-core already refuses a non-repeatable directive used twice at one location
(UniqueDirectivesPerLocationRule); "directive overloading" repeats unknown or repeatable directives
instead (``__typename @a @a @a ...``), and each one costs an error and its work.
"""

from __future__ import annotations

from typing import Any

from graphql import ASTValidationRule, DirectiveNode, Node

from schema.errors import TooManyDirectives


def directive_limit(max_directives: int) -> type[ASTValidationRule]:
    class DirectiveLimit(ASTValidationRule):
        def enter(self, node: Node, *_args: Any) -> None:
            directives: tuple[DirectiveNode, ...] | None = getattr(node, "directives", None)
            if directives and len(directives) > max_directives:
                self.report_error(
                    TooManyDirectives(
                        f"{len(directives)} directives at one location; at most {max_directives} are allowed",
                        max=max_directives,
                    )
                )

    return DirectiveLimit
