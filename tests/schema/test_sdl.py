"""The published schema: schema.graphql is the code's SDL, and a breaking change is named."""

from __future__ import annotations

import os
from pathlib import Path

from graphql import build_schema

from hub.cli_schema import BASE_ENV, check
from schema.sdl import breaking_changes, sdl

ROOT = Path(__file__).resolve().parents[2]
OLD = "type Query {\n  me: Citizen\n}\n\ntype Citizen {\n  name: String!\n  cardNumber: String!\n}\n"


def test_schema_graphql_is_the_codes_sdl() -> None:
    published = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert published == sdl(), "schema.graphql is out of date: cardhub schema print --output schema.graphql"


def test_the_code_breaks_nothing_the_published_schema_promised() -> None:
    """``make test``: against HEAD's schema.graphql (or $CARDHUB_SCHEMA_BASE's), see hub/cli_schema.py."""
    assert check(ROOT / "schema.graphql", os.environ.get(BASE_ENV) or "HEAD") == []


def test_the_sdl_parses_back_into_the_same_schema() -> None:
    text = sdl()
    assert breaking_changes(text, text) == []
    assert build_schema(text).query_type is not None


def test_a_removed_field_and_a_changed_type_are_breaking() -> None:
    new = OLD.replace("  cardNumber: String!\n", "").replace("name: String!", "name: Int!")
    broken = breaking_changes(OLD, new)
    assert broken == [
        "FIELD_REMOVED: Field Citizen.cardNumber was removed.",
        "FIELD_CHANGED_KIND: Field Citizen.name changed type from String! to Int!.",
    ]


def test_an_added_field_breaks_nothing() -> None:
    assert breaking_changes(OLD, OLD.replace("  name: String!\n", "  name: String!\n  age: Int\n")) == []
