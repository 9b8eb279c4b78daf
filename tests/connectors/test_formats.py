from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors import formats


def test_fen_become_exact_yuan() -> None:
    assert formats.money_from_fen(12345) == Decimal("123.45")
    assert formats.money_from_fen(-50) == Decimal("-0.50")
    assert str(formats.money_from_fen(0)) == "0.00"


@pytest.mark.parametrize("value", [1.5, True, "100", None])
def test_fen_must_be_whole_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="integer fen"):
        formats.money_from_fen(value)


def test_decimal_strings_stay_exact() -> None:
    assert formats.money_from_decimal_string("0.10") + formats.money_from_decimal_string("0.20") == Decimal("0.30")
    assert str(formats.money_from_decimal_string("-3")) == "-3.00"


@pytest.mark.parametrize("value", [0.1, "1.005", "NaN", "Infinity", "abc", None])
def test_decimal_strings_refuse_floats_and_noise(value: object) -> None:
    with pytest.raises(ValueError):
        formats.money_from_decimal_string(value)


@pytest.mark.parametrize(
    "value",
    ["1e30", "9" * 100, "-1e27", "1e999999999", "1E-999999999", "0." + "1" * 100, "1" * 2_000_000],
    ids=["1e30", "100 nines", "-1e27", "huge exponent", "tiny exponent", "100 decimals", "2 MB"],
)
def test_absurd_decimal_strings_are_value_errors(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        formats.money_from_decimal_string(value)
    assert len(str(caught.value)) < 100  # the reason, not a copy of the agency's megabytes


def test_the_largest_amounts_still_parse() -> None:
    assert formats.money_from_decimal_string("999999999999999999.99") == Decimal("999999999999999999.99")
    assert formats.money_from_decimal_string("-999999999999999999") == Decimal("-999999999999999999.00")
    with pytest.raises(ValueError, match="out of range"):
        formats.money_from_decimal_string("1000000000000000000")


@pytest.mark.parametrize("value", [10**20, -(10**20), 10**100, 10**5000], ids=["1e20", "-1e20", "1e100", "1e5000"])
def test_absurd_fen_are_value_errors(value: int) -> None:
    with pytest.raises(ValueError, match="fen out of range") as caught:
        formats.money_from_fen(value)
    assert len(str(caught.value)) < 100


def test_the_largest_fen_still_parse() -> None:
    assert formats.money_from_fen(10**20 - 1) == Decimal("999999999999999999.99")
    assert formats.money_from_fen(-(10**20) + 1) == Decimal("-999999999999999999.99")


def test_dates_and_instants() -> None:
    assert formats.date_from("20260301", "%Y%m%d") == date(2026, 3, 1)
    assert formats.datetime_from_iso("2026-03-01T08:00:00").utcoffset() == formats.CHINA_TZ.utcoffset(None)
    with pytest.raises(ValueError):
        formats.datetime_from_epoch_millis(10**20)
    with pytest.raises(ValueError):
        formats.date_from("2026-13-01", "%Y-%m-%d")


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("2026/03-01", "%Y/%m/%d"),
        ("2026-03/01", "%Y-%m-%d"),
        ("2026030a", "%Y%m%d"),
        ("20260230", "%Y%m%d"),
        ("", "%Y%m%d"),
    ],
)
def test_fast_date_formats_refuse_what_strptime_refuses(value: str, fmt: str) -> None:
    with pytest.raises(ValueError):
        formats.date_from(value, fmt)


def test_fast_date_formats_agree_with_strptime() -> None:
    assert formats.date_from("2024/02/29", "%Y/%m/%d") == date(2024, 2, 29)
    assert formats.date_from("20240229", "%Y%m%d") == date(2024, 2, 29)
    assert formats.date_from("01.03.2026", "%d.%m.%Y") == date(2026, 3, 1)
