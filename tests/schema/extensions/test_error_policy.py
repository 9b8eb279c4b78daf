from __future__ import annotations

import logging

import pytest
import strawberry

from schema.errors import ConsentRequired
from schema.extensions.error_policy import ErrorPolicy


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str | None:
        raise KeyError("secret-internal-detail")

    @strawberry.field
    def refused(self) -> str | None:
        raise ConsentRequired("no consent", scope="health")


SCHEMA = strawberry.Schema(query=Query, extensions=[ErrorPolicy])


async def test_unexpected_errors_are_masked_and_logged_with_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="cardhub.graphql"):
        result = await SCHEMA.execute("{ broken }")
    assert result.errors is not None
    [error] = result.errors
    assert error.message == "Unexpected error."
    assert error.extensions == {"code": "INTERNAL"}
    assert "secret-internal-detail" not in str(error.formatted)
    [record] = [r for r in caplog.records if r.name == "cardhub.graphql"]
    assert record.exc_info is not None and "secret-internal-detail" in str(record.exc_info[1])


async def test_hub_errors_pass_through_with_their_code() -> None:
    result = await SCHEMA.execute("{ refused }")
    assert result.errors is not None
    assert result.errors[0].message == "no consent"
    assert result.errors[0].extensions == {"code": "CONSENT_REQUIRED", "scope": "health"}
