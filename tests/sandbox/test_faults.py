from __future__ import annotations

import pytest

from sandbox.faults import Fault, FaultSyntaxError


def test_header_parses_every_fault() -> None:
    assert Fault.parse("latency=120; error=503; drop; hang; garbage") == Fault(
        latency_ms=120, error_status=503, drop=True, hang=True, garbage=True
    )
    assert Fault.parse("") == Fault()
    assert Fault.parse(" ; latency=5 ;") == Fault(latency_ms=5)


@pytest.mark.parametrize("header", ["latency=fast", "error=", "explode", "latency"])
def test_bad_headers_are_refused(header: str) -> None:
    with pytest.raises(FaultSyntaxError):
        Fault.parse(header)


def test_request_fault_adds_to_process_fault() -> None:
    process = Fault(latency_ms=100, error_status=500)
    combined = process.plus(Fault(latency_ms=20, error_status=503, drop=True))
    assert combined == Fault(latency_ms=120, error_status=503, drop=True)
    assert process.plus(Fault()).error_status == 500


def test_json_round_trip_and_unknown_fields() -> None:
    fault = Fault(latency_ms=10, hang=True)
    assert Fault.from_json(fault.to_json()) == fault
    with pytest.raises(FaultSyntaxError, match="unknown"):
        Fault.from_json({"latency": 10})
