"""The verifier never raises, whatever a scanner hands it: random text, mutated credentials,
hostile CBOR inside well-formed compression and base45."""

from __future__ import annotations

import zlib

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardverify import Refusal, Verified, base45, verify
from cardverify.format import PREFIX
from tests.cardverify.test_verifier import NOW, OLD, published, transit

KEYS = published(OLD)
GOOD = transit()
CODES = {"MALFORMED", "BAD_SIGNATURE", "UNKNOWN_KEY", "WRONG_PURPOSE", "EXPIRED"}
RAW = zlib.decompress(base45.decode(GOOD[len(PREFIX) :]))

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary(max_size=40) | st.text(max_size=40) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.integers(-70000, 50) | st.text(max_size=3), inner, max_size=5)
        | st.builds(cbor2.CBORTag, st.integers(0, 300), inner)
    ),
    max_leaves=30,
)


def answer_of(text: object, purpose: object = "transit", now: float = NOW + 1) -> Refusal | Verified:
    answer = verify(text, KEYS, purpose, now)  # type: ignore[arg-type]
    assert isinstance(answer, Refusal | Verified)
    if isinstance(answer, Refusal):
        assert answer.code in CODES
    return answer


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=500))
def test_any_text(text: str) -> None:
    answer_of(text)
    answer_of(PREFIX + text)


@settings(max_examples=400)
@given(st.lists(st.tuples(st.integers(0, len(RAW) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_a_credential_with_bytes_changed_never_verifies_as_changed(changes: list[tuple[int, int]]) -> None:
    raw = bytearray(RAW)
    for at, value in changes:
        raw[at] = value
    answer = answer_of(PREFIX + base45.encode(zlib.compress(bytes(raw))))
    if isinstance(answer, Verified):  # only when the changes left the bytes as they were
        assert bytes(raw) == RAW


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(cbor_values)
def test_hostile_cbor_inside_a_well_formed_wrapper(value: object) -> None:
    answer_of(PREFIX + base45.encode(zlib.compress(cbor2.dumps(value))))
    answer_of(PREFIX + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, value)))))


@settings(max_examples=200)
@given(st.lists(cbor_values, min_size=4, max_size=4), st.binary(max_size=80))
def test_hostile_cose_parts(parts: list[object], payload: bytes) -> None:
    protected = cbor2.dumps({1: -19, 4: b"2026-12"})
    for body in (payload, cbor2.dumps(parts[2])):
        cose = cbor2.CBORTag(18, [protected, {}, body, b"\x00" * 64])
        answer_of(PREFIX + base45.encode(zlib.compress(cbor2.dumps(cose))))
    answer_of(PREFIX + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts)))))


@given(st.one_of(st.none(), st.integers(), st.binary(), st.text()), st.floats(allow_nan=True))
def test_hostile_arguments(purpose: object, now: float) -> None:
    answer_of(GOOD, purpose, now)
    answer_of(b"CC1:")
