from __future__ import annotations

import pytest

from schema.documents import DocumentInvalid
from schema.schema import Limits, build_schema

DOCUMENT = "query Name { __typename }"


async def test_a_prepared_document_is_neither_parsed_nor_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = build_schema()
    prepared = schema.documents.prepare(DOCUMENT)
    assert schema.documents.prepare(DOCUMENT) is prepared

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed or validated again")

    monkeypatch.setattr("strawberry.extensions.parser_cache._get_parse_cache", lambda maxsize: fail)
    monkeypatch.setattr("strawberry.extensions.validation_cache._get_validate_cache", lambda maxsize: fail)
    for _ in range(2):
        result = await schema.execute(DOCUMENT)
        assert result.errors is None
        assert result.data == {"__typename": "Query"}


def test_an_invalid_document_is_refused_with_every_problem() -> None:
    schema = build_schema(edge=Limits(max_depth=2))
    with pytest.raises(DocumentInvalid) as refused:
        schema.documents.check("{ mee { cardNumber } me { transit { trips { nodes { line } } } } }")
    assert any("mee" in p for p in refused.value.problems)
    assert any("depth" in p for p in refused.value.problems)
    with pytest.raises(DocumentInvalid):
        schema.documents.check("{ unclosed ")


async def test_other_text_still_goes_through_the_caches() -> None:
    schema = build_schema()
    schema.documents.prepare(DOCUMENT)
    result = await schema.execute("{ mee }")
    assert result.errors is not None
    assert "mee" in result.errors[0].message
