"""cardverify.base45 against RFC 9285's examples and an independent implementation."""

from __future__ import annotations

import base45 as reference  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardverify import base45


@pytest.mark.parametrize(
    ("data", "text"), [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0")]
)
def test_rfc_9285_examples(data: bytes, text: str) -> None:
    assert base45.encode(data) == text
    assert base45.decode(text) == data


@given(st.binary(max_size=600))
def test_round_trip_and_agreement_with_another_implementation(data: bytes) -> None:
    text = base45.encode(data)
    assert text == reference.b45encode(data).decode()
    assert base45.decode(text) == data


@pytest.mark.parametrize("text", ["GGW", "::", "A", "abc", "ZZZZ", "é"])
def test_what_no_encoder_writes_is_refused(text: str) -> None:
    with pytest.raises(base45.Base45Error):
        base45.decode(text)
