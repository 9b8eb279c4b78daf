"""Request intervals, kept so tests can count how many agency calls overlapped.

``time.monotonic`` is CLOCK_MONOTONIC on Linux: one clock for every process on the machine, so
intervals from the five agency processes can be compared with each other.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class Interval:
    path: str
    start: float
    end: float | None = None


class RequestStats:
    def __init__(self, keep: int = 10_000) -> None:
        self.intervals: deque[Interval] = deque(maxlen=keep)
        self.count = 0

    def begin(self, path: str) -> Interval:
        interval = Interval(path=path, start=time.monotonic())
        self.intervals.append(interval)
        self.count += 1
        return interval

    @staticmethod
    def end(interval: Interval) -> None:
        interval.end = time.monotonic()

    def reset(self) -> None:
        self.intervals.clear()
        self.count = 0

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "intervals": [{"path": i.path, "start": i.start, "end": i.end} for i in self.intervals],
        }
