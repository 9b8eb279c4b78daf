"""Regular expressions an agency's manifest carries, run on RE2 (google-re2).

Agencies are not trusted with the hub's event loop. Python's ``re`` backtracks: ``^(\\d+)+$`` tries
every way of cutting "1111…1x" into runs before it gives up, twice as long for each digit more, and
it does so on the loop that serves every citizen. RE2 matches in time linear in the text, whatever
the pattern, and refuses what only a backtracking engine can do (backreferences, lookaround,
possessive quantifiers, conditionals): a manifest carrying such a pattern is refused when it is parsed.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any

import re2

# RE2's budget for one pattern's program and DFA cache (its default is 8 MiB). A card-number pattern
# needs a few KiB; past the budget RE2 refuses to compile rather than grow.
MAX_MEMORY_BYTES = 1 << 20


class PatternRefused(ValueError):
    """Not a pattern the hub runs; the message says why (a manifest problem's reason)."""


class LinearPattern:
    """A pattern whose matching takes time linear in the length of the text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled = _compile(source)

    def fullmatch(self, text: str) -> bool:
        return self._compiled.fullmatch(text) is not None


def linear_pattern(source: str) -> LinearPattern:
    """``source`` compiled with RE2, or ``PatternRefused``."""
    return LinearPattern(source)


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    options = re2.Options()
    options.max_mem = MAX_MEMORY_BYTES
    options.log_errors = False  # the reason goes back to the agency, not to the hub's stderr
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        raise PatternRefused(_reason(source, exc)) from None


def _reason(source: str, exc: Exception) -> str:
    detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    if detail.startswith("pattern too large"):
        return f"too large: RE2 would need more than {MAX_MEMORY_BYTES // 1024} KiB to run it"
    try:
        with warnings.catch_warnings():  # "possible nested set" and the like: only the verdict matters here
            warnings.simplefilter("ignore")
            re.compile(source)
    except re.error as python_error:
        return f"not a regular expression: {python_error}"
    return (
        f"must be a linear-time (RE2) regular expression: {detail} (backreferences, lookaround and "
        "possessive quantifiers need backtracking, which the hub does not run)"
    )
