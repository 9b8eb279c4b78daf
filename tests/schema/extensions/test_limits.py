from __future__ import annotations

from schema.schema import build_schema

DEEP = "{ me { transit { trips { nodes { line } } } } }"  # depth 4 below the root


async def test_depth_limit_refuses_deeper_queries_every_time() -> None:
    schema = build_schema(max_depth=3, max_aliases=30)
    for _ in range(2):  # the second run is answered from the validation cache: the rule must still hold
        result = await schema.execute(DEEP)
        assert result.errors is not None
        assert "exceeds maximum operation depth of 3" in result.errors[0].message


async def test_depth_limit_lets_queries_within_it_through_validation() -> None:
    result = await build_schema(max_depth=4, max_aliases=30).execute(DEEP, context_value=None)
    # Validation passes; execution then fails for want of a context, not at the depth rule.
    assert result.errors is not None
    assert all("depth" not in e.message for e in result.errors)


async def test_alias_limit() -> None:
    result = await build_schema(max_depth=10, max_aliases=2).execute("{ a: __typename b: __typename c: __typename }")
    assert result.errors is not None
    assert "aliases" in result.errors[0].message
