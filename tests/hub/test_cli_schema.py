"""``cardhub schema print | check``: needs no settings; check measures "the change" from a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hub import cli
from hub.cli_schema import check
from schema.sdl import sdl

OLD = "type Query {\n  me: Citizen\n}\n\ntype Citizen {\n  name: String!\n  cardNumber: String!\n}\n"
ADDED = OLD.replace("  name: String!\n", "  name: String!\n  age: Int\n")
REMOVED = OLD.replace("  cardNumber: String!\n", "")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose HEAD published OLD."""
    git(tmp_path, "init", "-q")
    (tmp_path / "schema.graphql").write_text(OLD)
    git(tmp_path, "add", "schema.graphql")
    git(tmp_path, "commit", "-q", "-m", "publish")
    return tmp_path


def test_a_breaking_change_that_leaves_the_published_file_alone_is_refused(repo: Path) -> None:
    problems = check(repo / "schema.graphql", "HEAD", code=REMOVED)
    assert "  FIELD_REMOVED: Field Citizen.cardNumber was removed." in problems
    assert problems[0].startswith("the code breaks the schema published")
    assert problems[-1].endswith("differs from the code: cardhub schema print --output " + str(repo / "schema.graphql"))


def test_a_breaking_change_that_updates_the_file_in_the_same_change_passes(repo: Path) -> None:
    (repo / "schema.graphql").write_text(REMOVED)
    assert check(repo / "schema.graphql", "HEAD", code=REMOVED) == []


def test_an_additive_change_asks_only_for_the_file(repo: Path) -> None:
    problems = check(repo / "schema.graphql", "HEAD", code=ADDED)
    assert len(problems) == 1 and "differs from the code" in problems[0]


def test_in_ci_head_is_the_submission_and_a_base_names_the_branch(repo: Path) -> None:
    (repo / "schema.graphql").write_text(REMOVED)
    git(repo, "commit", "-q", "-am", "drop cardNumber")  # the code and the file changed together
    assert check(repo / "schema.graphql", "HEAD", code=REMOVED) == []
    assert check(repo / "schema.graphql", "HEAD~1", code=REMOVED) == []  # the branch updated the file: allowed
    assert check(repo / "schema.graphql", "HEAD", code=OLD) != []  # the code no longer matches the commit


def test_without_git_the_file_must_equal_the_code(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text(OLD)
    assert check(tmp_path / "schema.graphql", "HEAD", code=OLD) == []
    assert check(tmp_path / "schema.graphql", "HEAD", code=ADDED) != []


def test_schema_print_needs_no_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARDHUB_MODE", "production")  # production settings would ask for keys and a database
    monkeypatch.setenv("CARDHUB_CONFIG", str(tmp_path / "missing.toml"))
    assert cli.main(["schema", "print"]) == 0
    assert capsys.readouterr().out == sdl()
    assert cli.main(["schema", "print", "--output", str(tmp_path / "out.graphql")]) == 0
    assert (tmp_path / "out.graphql").read_text() == sdl()


def test_schema_check_exits_1_and_says_why(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "check", "--file", str(repo / "schema.graphql")]) == 1
    assert "differs from the code" in capsys.readouterr().err
