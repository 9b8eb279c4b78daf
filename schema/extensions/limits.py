"""Query depth, alias and directive limits, as validation rules built once.

strawberry's QueryDepthLimiter and MaxAliasesLimiter build new rule classes per instance, which
defeats the validation cache; building the rules here once keeps cached validation effective.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphql import ASTValidationRule
from strawberry.extensions import AddValidationRules
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from schema.extensions.directives import directive_limit


def limit_rules(max_depth: int, max_aliases: int, max_directives: int) -> list[type[ASTValidationRule]]:
    return [depth_validator(max_depth, None), alias_validator(max_aliases), directive_limit(max_directives)]


def limits(rules: list[type[ASTValidationRule]]) -> Callable[[], AddValidationRules]:
    return partial(AddValidationRules, rules)
