from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import pytest

from connectors.agency_auth import NoAuth
from connectors.base import Connector
from connectors.domain import Section
from connectors.errors import AgencyBadResponse
from connectors.runtime import AgencyClient, AgencyEndpoint


class Bare(Connector):
    agency = "library"

    async def fetch(self, card_number: str) -> Section | None:
        return None


def overflow() -> object:
    return Decimal("1e30").quantize(Decimal("0.01"))


def too_big_float() -> object:
    return float(10**400)


def zero_division() -> object:
    return 1 // 0


@pytest.mark.parametrize("build", [overflow, too_big_float, zero_division])
def test_arithmetic_errors_in_a_mapping_are_bad_responses(build: Callable[[], object]) -> None:
    connector = Bare(AgencyClient(AgencyEndpoint("library", "http://127.0.0.1:9", NoAuth())))
    with pytest.raises(AgencyBadResponse, match="unexpected loans") as caught:
        connector.mapped("loans", build)
    assert isinstance(caught.value.__cause__, ArithmeticError)


def test_invalid_operation_is_not_a_value_error() -> None:
    # Why mapped() names ArithmeticError: decimal's own error is not among the ValueErrors.
    assert not issubclass(InvalidOperation, ValueError)
