from __future__ import annotations

import pytest

from connectors.errors import MAX_MESSAGE_CHARS, AgencyBadResponse, AgencyError, AgencyUnavailable


def test_a_short_message_is_kept_as_is() -> None:
    error = AgencyBadResponse("transit", "unexpected card: balance 'abc' (HTTP 200) — 余额")
    assert error.message == "unexpected card: balance 'abc' (HTTP 200) — 余额"
    assert str(error) == "transit: unexpected card: balance 'abc' (HTTP 200) — 余额"


@pytest.mark.parametrize("size", [MAX_MESSAGE_CHARS + 1, 2_000_000])
def test_a_long_message_is_cut_with_an_ellipsis(size: int) -> None:
    error = AgencyUnavailable("health", "x" * size)
    assert len(error.message) == MAX_MESSAGE_CHARS
    assert error.message == "x" * (MAX_MESSAGE_CHARS - 1) + "…"
    assert error.args == (error.message,)


def test_a_message_of_exactly_the_bound_is_not_cut() -> None:
    assert AgencyError("health", "y" * MAX_MESSAGE_CHARS).message == "y" * MAX_MESSAGE_CHARS


@pytest.mark.parametrize("control", ["\n", "\r", "\x1b", "\x00", "\x85", "\u2028", "\u2029", "\u202e", "\ud800"])
def test_control_characters_cannot_forge_a_line(control: str) -> None:
    error = AgencyBadResponse("library", f"bad fine{control}2026-12-02 INFO auth: consent granted")
    assert control not in error.message
    assert control not in str(error)
    assert error.message.isprintable()
    assert "consent granted" in error.message
    error.message.encode("utf-8")  # a lone surrogate would break the log handler


def test_the_cut_happens_after_escaping_so_the_bound_holds() -> None:
    assert len(AgencyBadResponse("library", "\x00" * 1000).message) == MAX_MESSAGE_CHARS
