from __future__ import annotations

from dataclasses import dataclass

from auth.principal import Principal
from schema.extensions.disclosure import Disclosure, without_suggestions
from schema.schema import Limits, build_schema

PRODUCTION = Disclosure(production=True, developer_clients=frozenset({"dev-tool"}))
INTROSPECT = '{ __type(name: "Query") { name } }'


@dataclass
class Asker:
    principal: Principal | None


async def codes(disclosure: Disclosure, principal: Principal | None) -> list[str | None]:
    schema = build_schema(edge=Limits(disclosure=disclosure))
    result = await schema.execute(INTROSPECT, context_value=Asker(principal))
    return [(e.extensions or {}).get("code") for e in result.errors or []]


async def test_production_refuses_introspection_to_all_but_developer_clients() -> None:
    app = Principal("some-app", frozenset({"card"}))
    assert await codes(PRODUCTION, None) == ["INTROSPECTION_DISABLED"]
    assert await codes(PRODUCTION, app) == ["INTROSPECTION_DISABLED"]
    assert await codes(PRODUCTION, Principal("dev-tool", frozenset())) == []
    assert await codes(Disclosure(production=False), None) == []  # sandbox: everyone


async def test_the_refusal_is_cached_per_rule_set_not_per_document() -> None:
    schema = build_schema(edge=Limits(disclosure=PRODUCTION))
    developer = Asker(Principal("dev-tool", frozenset()))
    for asker in (Asker(None), developer, Asker(None), developer):
        result = await schema.execute(INTROSPECT, context_value=asker)
        assert (result.errors is None) == (asker is developer)


def test_suggestions_are_cut_from_messages() -> None:
    assert without_suggestions("Cannot query field 'mee' on type 'Query'. Did you mean 'me'?") == (
        "Cannot query field 'mee' on type 'Query'."
    )
    assert without_suggestions("Unknown argument 'frist'. Did you mean 'first'?") == "Unknown argument 'frist'."
