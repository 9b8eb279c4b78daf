"""Progress of long CLI work (migrations, contract tests, pruning, key rotation), on a terminal only.

A spinner on stderr says what the command is doing while it waits; when stderr is piped or
redirected (scripts, CI, logs) nothing extra is written, so output stays what the docs show.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def progress(what: str) -> Iterator[None]:
    if not sys.stderr.isatty():
        yield
        return
    with Console(stderr=True).status(f"{what}...", spinner="dots"):
        yield
