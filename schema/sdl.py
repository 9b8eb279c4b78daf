"""The schema as published (``schema.graphql``, ``cardhub schema print``), and what a change to it breaks.

The SDL is printed from the code, so the file can only lag behind it; tests/schema/test_sdl.py fails
when it does, and ``cardhub schema check`` (hub/cli_schema.py) refuses a breaking change that does
not update the file in the same change.
"""

from __future__ import annotations

from graphql import GraphQLSchema, build_schema, find_breaking_changes

from schema.schema import build_schema as build_hub_schema


def sdl() -> str:
    """The schema's SDL, as committed in ``schema.graphql``: the same text for the same code."""
    return build_hub_schema().as_str() + "\n"


def breaking_changes(old: str, new: str) -> list[str]:
    """What a client written against ``old`` would find broken in ``new`` (graphql-core's rules)."""
    return [f"{change.type.name}: {change.description}" for change in find_breaking_changes(_parse(old), _parse(new))]


def _parse(text: str) -> GraphQLSchema:
    return build_schema(text)
