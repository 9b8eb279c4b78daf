from __future__ import annotations

import time

from schema.schema import Limits, build_schema


async def test_a_document_over_the_token_limit_is_refused_quickly_with_a_code() -> None:
    schema = build_schema(edge=Limits(max_tokens=1000))
    started = time.monotonic()
    result = await schema.execute("{ " + "__typename " * 200_000 + "}")
    assert time.monotonic() - started < 0.5
    assert result.errors is not None
    assert [(e.extensions or {}).get("code") for e in result.errors] == ["TOO_MANY_TOKENS"]


async def test_a_document_within_the_limit_runs() -> None:
    result = await build_schema(edge=Limits(max_tokens=1000)).execute("{ __typename }")
    assert result.errors is None
    assert result.data == {"__typename": "Query"}
