"""Parsers for the wire formats agencies use. Each raises ``ValueError`` on bad input, which the
adapter turns into ``AgencyBadResponse``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
# No account holds a quintillion yuan. The bound keeps every amount, and sums of many, well inside the
# 28 digits of Decimal's default context, where quantize() raises InvalidOperation rather than ValueError.
MAX_YUAN = Decimal(10) ** 18
MAX_FEN = 10**20
MAX_AMOUNT_CHARS = 40  # a decimal string past this is noise; don't parse (or quote) megabytes of it


def money_from_fen(value: object) -> Decimal:
    """Integer fen (1/100 yuan) -> Decimal yuan. Refuses floats and bools: fen are whole numbers."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected integer fen, got {value!r}")
    if abs(value) >= MAX_FEN:  # not repr'd: a huge int is slow to print, past 4300 digits it can't be
        raise ValueError(f"fen out of range: {value.bit_length()} bits")
    return (Decimal(value) / 100).quantize(CENT)


def money_from_decimal_string(value: object) -> Decimal:
    """ "12.50" -> Decimal("12.50"). Refuses floats, which would already have lost exactness."""
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    if len(value) > MAX_AMOUNT_CHARS:
        raise ValueError(f"too long for an amount: {len(value)} characters")
    try:
        amount = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if not -MAX_YUAN < amount < MAX_YUAN:  # compared, not abs(): abs() rounds, and overflows on 1e999999999
        raise ValueError(f"amount out of range: {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"more precision than a fen: {value!r}")
    return amount.quantize(CENT)


def date_from(value: object, fmt: str) -> date:
    """Parse with a ``strptime`` format, e.g. "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y"."""
    if not isinstance(value, str):
        raise ValueError(f"expected a date string, got {value!r}")
    # strptime is slow and a full profile parses hundreds of dates: take the common formats directly.
    if fmt in _FAST_DATES and len(value) == _FAST_DATES[fmt] and value.isascii():
        digits = value.replace("-", "").replace("/", "")
        if len(digits) == 8 and digits.isdigit() and (fmt == "%Y%m%d" or value[4] == value[7] == fmt[2]):
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return datetime.strptime(value, fmt).date()


_FAST_DATES = {"%Y-%m-%d": 10, "%Y/%m/%d": 10, "%Y%m%d": 8}


def datetime_from_iso(value: object) -> datetime:
    """ISO 8601 instant; a naive one is taken as China Standard Time (UTC+8)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO datetime, got {value!r}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)


def datetime_from_epoch_millis(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected epoch milliseconds, got {value!r}")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError) as exc:  # out of the platform's range: still just a bad value
        raise ValueError(f"epoch milliseconds out of range: {value!r}") from exc


def require(mapping: object, key: str) -> object:
    """``mapping[key]`` or ValueError naming the key: agencies drop fields more often than you'd think."""
    if not isinstance(mapping, dict):
        raise ValueError(f"expected an object holding {key!r}, got {type(mapping).__name__}")
    if key not in mapping:
        raise ValueError(f"missing field {key!r}")
    return mapping[key]


def require_str(mapping: object, key: str) -> str:
    value = require(mapping, key)
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} should be a string, got {value!r}")
    return value


def require_list(mapping: object, key: str) -> list[object]:
    value = require(mapping, key)
    if not isinstance(value, list):
        raise ValueError(f"field {key!r} should be a list, got {type(value).__name__}")
    return value
