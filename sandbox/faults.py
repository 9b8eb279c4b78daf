"""Fault injection for tests and demos.

Per process (``python -m sandbox serve --latency 100 ...`` or ``PUT /_sandbox/fault``) and per
request (header ``X-Sandbox-Fault: latency=100; error=503; drop; hang; garbage``). A request's
own header adds to the process-wide fault: latencies add, the request's error status wins.
A latency of N ms means the agency answers N ms after the request arrived (its own work included);
with an error, drop or garbage fault it waits N ms, then fails.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

FAULT_HEADER = "X-Sandbox-Fault"
HANG_SECONDS = 600.0  # "hang until timeout": long past any sane client timeout, yet bounded


class FaultSyntaxError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Fault:
    latency_ms: int = 0
    error_status: int | None = None
    drop: bool = False  # close the connection without answering
    hang: bool = False  # never answer (until HANG_SECONDS)
    garbage: bool = False  # answer 200 with a body that is not the agency's JSON

    @classmethod
    def parse(cls, header: str) -> Fault:
        fault = cls()
        for raw in header.split(";"):
            item = raw.strip()
            if not item:
                continue
            key, _, value = item.partition("=")
            key = key.strip().lower()
            try:
                if key == "latency":
                    fault = replace(fault, latency_ms=int(value))
                elif key == "error":
                    fault = replace(fault, error_status=int(value))
                elif key in ("drop", "hang", "garbage"):
                    fault = replace(fault, **{key: True})
                else:
                    raise FaultSyntaxError(f"unknown fault {key!r}")
            except ValueError as exc:
                raise FaultSyntaxError(f"bad fault {item!r}: {exc}") from exc
        return fault

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise FaultSyntaxError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def plus(self, other: Fault) -> Fault:
        return Fault(
            latency_ms=self.latency_ms + other.latency_ms,
            error_status=other.error_status if other.error_status is not None else self.error_status,
            drop=self.drop or other.drop,
            hang=self.hang or other.hang,
            garbage=self.garbage or other.garbage,
        )

    @property
    def is_noop(self) -> bool:
        return self == Fault()
