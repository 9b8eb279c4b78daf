"""The CLI explains itself: help on every subcommand and option, --version, --config anywhere, no
traceback on a closed pipe, logging configured once."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub import cli

CARDHUB = shutil.which("cardhub", path=str(Path(sys.executable).parent)) or "cardhub"


def undocumented(parser: argparse.ArgumentParser, path: str = "cardhub") -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += undocumented(sub, f"{path} {name}")
        elif not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_subcommand_and_option_has_help() -> None:
    assert undocumented(cli._parser()) == []


def test_the_walk_finds_an_option_without_help() -> None:
    parser = cli._parser()
    parser.add_argument("--bare")
    assert undocumented(parser) == ["cardhub --bare"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("cardhub ")


@pytest.mark.parametrize("argv", [["--config", "{f}", "db", "status"], ["db", "status", "--config", "{f}"],
                                  ["db", "status", "--config={f}"]])  # fmt: skip
def test_config_before_or_after_the_subcommand(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    assert cli.main([arg.format(f=missing) for arg in argv]) == 2
    assert capsys.readouterr().err == f"cardhub: config file not found: {missing}\n"


def test_a_closed_pipe_ends_quietly() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as with `| head -1` under load
    try:
        done = subprocess.run(
            [CARDHUB, "schema", "print"], check=False, stdout=write, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write)
    assert done.stderr.decode() == ""
    assert done.returncode == 1


def test_logging_is_configured_once_by_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        assert cli.main(["scopes"]) == 0
        assert len(root.handlers) == 1
        logging.getLogger("cardhub.test").error("one failure")
        assert capsys.readouterr().err.count("one failure") == 1
    finally:
        root.handlers = saved
