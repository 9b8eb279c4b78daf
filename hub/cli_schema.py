"""``cardhub schema print | check``: the published SDL (``schema.graphql`` at the repository root).

``check`` fails when the file and the code differ, and refuses a breaking change (graphql-core's
``find_breaking_changes``) unless the change updates the file too. "The change" is measured against a
git revision: ``--base``, else ``CARDHUB_SCHEMA_BASE``, else ``HEAD``. On a working tree that is the
uncommitted change; in CI, on a fresh clone, HEAD is the submission itself, so the check holds the code
to the committed file; set ``CARDHUB_SCHEMA_BASE`` to the merge base to list what a branch breaks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.settings import Settings

BASE_ENV = "CARDHUB_SCHEMA_BASE"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("schema", help="the published GraphQL schema (SDL)")
    commands = parser.add_subparsers(dest="schema_command", required=True)
    show = commands.add_parser("print", help="print the schema's SDL, as schema.graphql holds it")
    show.add_argument("--output", metavar="FILE", help="write it to FILE instead of standard output")
    show.set_defaults(handler=_print, needs_settings=False)
    check = commands.add_parser(
        "check", help="fail when FILE and the code differ, or on an unannounced breaking change"
    )
    check.add_argument("--file", default="schema.graphql", help="the published SDL (default: schema.graphql)")
    check.add_argument("--base", help=f"git revision the change is measured from (default: ${BASE_ENV}, else HEAD)")
    check.set_defaults(handler=_check, needs_settings=False)


def _print(args: argparse.Namespace, settings: Settings) -> int:
    from schema import sdl  # the schema's modules only for the commands that use them

    if args.output:
        Path(args.output).write_text(sdl.sdl(), encoding="utf-8")
    else:
        sys.stdout.write(sdl.sdl())
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    problems = check(Path(args.file), args.base or os.environ.get(BASE_ENV) or "HEAD")
    for line in problems:
        print(f"cardhub: {line}", file=sys.stderr)
    return 1 if problems else 0


def check(file: Path, base: str, code: str | None = None) -> list[str]:
    """Why the published schema in ``file`` may not stand (empty when it may), ``base`` the git revision."""
    from schema import sdl

    code = sdl.sdl() if code is None else code
    current = file.read_text(encoding="utf-8") if file.exists() else None
    before = published(file, base)
    problems: list[str] = []
    if before is not None and current == before:  # the change leaves the published file alone
        broken = sdl.breaking_changes(before, code)
        if broken:
            problems.append(f"the code breaks the schema published in {file} at {base}:")
            problems += [f"  {change}" for change in broken]
            problems.append(f"  if that is intended, update {file} in the same change and say so in the CHANGELOG")
    if current != code:
        problems.append(f"{file} differs from the code: cardhub schema print --output {file}")
    return problems


def published(file: Path, base: str) -> str | None:
    """``file`` as of git revision ``base``; None when there is no repository or no such file there."""
    try:
        shown = subprocess.run(
            ["git", "show", f"{base}:./{file.name}"], cwd=file.parent.resolve(), capture_output=True, check=False
        )
    except OSError:  # no git on this machine: nothing to compare with
        return None
    return shown.stdout.decode() if shown.returncode == 0 else None
