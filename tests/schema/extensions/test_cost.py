from __future__ import annotations

from schema.schema import Limits, build_schema

TRIPS = "query($n: Int) { me { transit { trips(first: $n) { nodes { line } totalCount } } } }"


async def cost_of(query: str, variables: dict[str, int] | None = None, max_cost: int = 10_000) -> tuple[int, list[str]]:
    schema = build_schema(edge=Limits(max_cost=max_cost, default_page_size=20, report_cost=True))
    result = await schema.execute(query, variables, context_value=None)
    codes = [str((e.extensions or {}).get("code")) for e in result.errors or []]
    return int((result.extensions or {}).get("cost", -1)), codes


async def test_a_list_costs_its_page_size_through_nesting() -> None:
    # me 1, transit 1, trips n, nodes n, line n, totalCount n
    assert (await cost_of(TRIPS, {"n": 7}))[0] == 2 + 4 * 7
    assert (await cost_of(TRIPS))[0] == 2 + 4 * 20  # no first: the default page size
    inline = "{ me { transit { trips(first: 5) { ...T } } } } fragment T on TripPage { nodes { line } }"
    assert (await cost_of(inline))[0] == 2 + 5 + 5 + 5


async def test_over_the_limit_is_refused_before_execution_with_a_code() -> None:
    cost, codes = await cost_of(TRIPS, {"n": 100}, max_cost=100)
    assert cost == 402
    assert codes == ["COST_LIMIT_EXCEEDED"]
    _, codes = await cost_of(TRIPS, {"n": 10}, max_cost=100)
    assert "COST_LIMIT_EXCEEDED" not in codes


async def test_an_invalid_document_gets_its_validation_errors_not_a_cost() -> None:
    cost, codes = await cost_of("{ me { nope(first: 100000) { x } } }", max_cost=1)
    assert cost == -1
    assert "COST_LIMIT_EXCEEDED" not in codes
