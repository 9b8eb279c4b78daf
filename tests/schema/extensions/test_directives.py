from __future__ import annotations

from schema.schema import Limits, build_schema


async def codes(query: str, max_directives: int = 3) -> list[str | None]:
    result = await build_schema(edge=Limits(max_directives=max_directives)).execute(query)
    return [(e.extensions or {}).get("code") for e in result.errors or []]


async def test_repeated_directives_are_refused_with_a_code() -> None:
    assert "TOO_MANY_DIRECTIVES" in await codes("{ __typename " + "@a " * 50 + "}")
    assert "TOO_MANY_DIRECTIVES" in await codes("{ __typename @include(if: true) " + "@skip(if: false) " * 4 + "}")
    # graphql-core's own rule: a non-repeatable directive twice at one location
    assert await codes("{ __typename @skip(if: false) @skip(if: false) }") != []


async def test_a_few_directives_pass() -> None:
    assert await codes("{ __typename @include(if: true) @skip(if: false) }") == []
