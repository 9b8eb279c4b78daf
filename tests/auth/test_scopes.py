"""One scope catalogue: the schema's checks, the metadata and the docs all follow it."""

from __future__ import annotations

from pathlib import Path

import pytest
from strawberry.permission import PermissionExtension
from strawberry.types.base import get_object_definition

from auth import scopes
from auth.oauth.metadata import metadata
from schema.permissions import RequireScope
from schema.types.citizen import Citizen

DOC = Path(__file__).parents[2] / "docs" / "for-app-developers.md"


def guarded_fields() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for field in get_object_definition(Citizen, strict=True).fields:
        for extension in field.extensions:
            if isinstance(extension, PermissionExtension):
                for permission in extension.permissions:
                    if isinstance(permission, RequireScope):
                        found.setdefault(permission.scope, set()).add(field.python_name)
    return found


def test_every_scope_guards_what_the_catalogue_says() -> None:
    from strawberry.schema.name_converter import NameConverter

    camel = NameConverter().apply_naming_config
    guarded = {scope: {f"`{camel(name)}`" for name in names} for scope, names in guarded_fields().items()}
    documented = {scope: set(text.split(", ")) for scope, text in scopes.GUARDS.items()}
    assert guarded == documented
    assert set(guarded) == scopes.READ_SCOPES


def test_the_docs_table_is_the_catalogue() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- scopes:begin (cardhub scopes) -->\n", "\n<!-- scopes:end -->"
    assert begin in text and end in text, "docs/for-app-developers.md lost its scope table markers"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == scopes.markdown_table(), "regenerate the table with: cardhub scopes"


def test_metadata_lists_the_catalogue() -> None:
    meta = metadata("https://hub.example")
    assert meta["scopes_supported"] == [s.name for s in scopes.CATALOGUE] + list(scopes.CLIENT_SCOPES)


def test_unknown_scopes_are_refused_not_dropped() -> None:
    assert scopes.parse("transit  library") == {"transit", "library"}
    with pytest.raises(scopes.UnknownScope, match="everything"):
        scopes.parse(["transit", "everything"])
