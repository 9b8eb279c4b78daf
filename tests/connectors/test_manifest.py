"""Connector manifests, parsed and validated without any network: the shipped five, secrets kept out of
every export, each kind of fault reported at its own path, and hostile input refused cleanly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.domain import AGENCY_IDS
from connectors.manifest import REDACTED, Manifest, ManifestError, NoAuth, Problem
from connectors.manifest_parsing import MAX_MANIFEST_BYTES, json_schema, parse
from connectors.registry import ConnectorConfigError, adapter_class, builtin_manifest, with_overrides

# --- helpers --------------------------------------------------------------------------------------


def data_of(agency: str) -> dict[str, Any]:
    """A fresh, mutable copy of a shipped manifest as plain data, secret included."""
    loaded: dict[str, Any] = json.loads(builtin_manifest(agency).secret_json())
    return loaded


def secret_of(manifest: Manifest) -> str:
    assert not isinstance(manifest.auth, NoAuth)
    assert manifest.auth.secret is not None
    return manifest.auth.secret.get_secret_value()


def problems(source: dict[str, Any] | str | bytes, **kwargs: Any) -> list[Problem]:
    """The problems parse reports; fails the test when the input is accepted."""
    text = json.dumps(source) if isinstance(source, dict) else source
    with pytest.raises(ManifestError) as caught:
        parse(text, **kwargs)
    assert caught.value.problems, "a ManifestError must name at least one problem"
    return caught.value.problems


def reason_at(found: list[Problem], path: str) -> str:
    """The reason of the problem at exactly ``path``; fails listing what was reported instead."""
    reasons = [p.reason for p in found if p.path == path]
    assert reasons, f"no problem at {path!r}; got {[str(p) for p in found]}"
    return reasons[0]


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# --- the shipped manifests and their secrets -----------------------------------------------------------


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_shipped_manifests_parse(agency: str) -> None:
    manifest = builtin_manifest(agency)
    assert manifest.agency == agency
    assert manifest.section == agency
    assert manifest.mapping is not None
    assert manifest.adapter is None


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_toml_export_redacts_the_secret(agency: str) -> None:
    manifest = builtin_manifest(agency)
    secret = secret_of(manifest)
    exported = manifest.to_toml()
    assert secret not in exported
    assert REDACTED in exported
    assert manifest.secret_free()["auth"]["secret"] == REDACTED


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_toml_export_round_trips_except_the_secret(agency: str) -> None:
    manifest = builtin_manifest(agency)
    again = parse(manifest.to_toml())
    assert again.secret_free() == manifest.secret_free()
    assert secret_of(again) == REDACTED
    assert again.keeps_active_secret
    assert not manifest.keeps_active_secret
    assert again != manifest  # the secret itself did not survive the export


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_stored_keeps_the_secret_and_round_trips_exactly(agency: str) -> None:
    manifest = builtin_manifest(agency)
    stored = manifest.secret_json()
    assert json.loads(stored)["auth"]["secret"] == secret_of(manifest)
    assert parse(stored) == manifest


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_repr_and_str_hide_the_secret(agency: str) -> None:
    manifest = builtin_manifest(agency)
    secret = secret_of(manifest)
    assert secret not in repr(manifest)
    assert secret not in str(manifest)
    assert secret not in repr(manifest.auth)


def test_errors_do_not_echo_a_misplaced_secret() -> None:
    data = data_of("health")
    secret = data["auth"].pop("secret")
    data["auth"]["secrt"] = secret  # a typo: the secret sits under an unknown key
    found = problems(data)
    assert reason_at(found, "auth.secrt") == "unknown key"
    assert all(secret not in str(p) for p in found)


@pytest.mark.parametrize("agency", AGENCY_IDS)
def test_json_reads_like_toml(agency: str) -> None:
    manifest = builtin_manifest(agency)
    text = json.dumps(json.loads(manifest.secret_json()), ensure_ascii=False, indent=2)
    assert parse(text) == manifest
    assert parse("\n  " + text) == manifest  # leading whitespace still reads as JSON
    assert parse(text.encode(), source_format="json") == manifest


# --- unknown keys, wrong types, missing keys ---------------------------------------------------------


def test_unknown_top_level_key() -> None:
    data = data_of("transit")
    data["colour"] = "blue"
    assert only(problems(data)) == Problem(path="colour", reason="unknown key")


def test_unknown_top_level_key_in_toml() -> None:
    text = "colour = 'blue'\n" + builtin_manifest("transit").to_toml()
    assert only(problems(text)) == Problem(path="colour", reason="unknown key")


def test_unknown_key_in_auth() -> None:
    data = data_of("transit")
    data["auth"]["colour"] = "blue"
    assert only(problems(data)) == Problem(path="auth.colour", reason="unknown key")


def test_unknown_key_deep_in_a_resource() -> None:
    data = data_of("transit")
    data["resources"]["card"]["items"] = "items"
    data["resources"]["card"]["pagination"] = {"style": "cursor", "page_size": 10, "next_cursor": "n", "foo": 1}
    assert only(problems(data)) == Problem(path="resources.card.pagination.foo", reason="unknown key")


def test_unknown_key_in_a_list_mapping() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["colour"] = "blue"
    assert only(problems(data)) == Problem(path="mapping.lists.trips.colour", reason="unknown key")


def test_unknown_key_in_a_field_table_is_the_only_problem() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["balance"]["colour"] = "blue"
    assert problems(data) == [Problem(path="mapping.fields.balance.colour", reason="unknown key")]


def test_a_resource_named_like_a_union_tag_keeps_its_name_in_paths() -> None:
    data = data_of("transit")
    data["resources"]["cursor"] = data["resources"].pop("trips")
    data["mapping"]["lists"]["trips"]["from"] = "cursor"
    data["resources"]["cursor"]["pagination"]["colour"] = "blue"
    assert only(problems(data)) == Problem(path="resources.cursor.pagination.colour", reason="unknown key")


def test_timeout_must_be_a_number() -> None:
    data = data_of("transit")
    data["timeout_seconds"] = "fast"
    problem = only(problems(data))
    assert problem.path == "timeout_seconds"
    assert "valid number" in problem.reason


def test_max_connections_must_be_positive() -> None:
    data = data_of("transit")
    data["max_connections"] = -1
    problem = only(problems(data))
    assert problem.path == "max_connections"
    assert "greater than or equal to 1" in problem.reason


def test_retry_attempts_are_capped() -> None:
    data = data_of("transit")
    data["retry"]["attempts"] = 9
    problem = only(problems(data))
    assert problem.path == "retry.attempts"
    assert "less than or equal to 5" in problem.reason


@pytest.mark.parametrize("key", ["auth", "contract"])
def test_required_tables(key: str) -> None:
    data = data_of("transit")
    del data[key]
    assert only(problems(data)) == Problem(path=key, reason="required")


def test_unknown_auth_kind_names_the_kinds() -> None:
    data = data_of("transit")
    data["auth"]["kind"] = "magic"
    reason = reason_at(problems(data), "auth")
    assert "'magic'" in reason
    assert "api_key" in reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x", "http or https"),
        ("http://", "with a host"),
        ("127.0.0.1:8702", "http or https"),
        ("http://user:pass@x", "credentials"),
        ("https://x/api?key=1", "query or fragment"),
        ("https://x/api#top", "query or fragment"),
    ],
)
def test_bad_base_url(url: str, reason: str) -> None:
    data = data_of("transit")
    data["base_url"] = url
    problem = only(problems(data))
    assert problem.path == "base_url"
    assert reason in problem.reason


def test_base_url_loses_its_trailing_slash() -> None:
    data = data_of("transit")
    data["base_url"] = "https://api.example/v1/"
    assert parse(json.dumps(data)).base_url == "https://api.example/v1"


def test_secret_and_secret_env_together() -> None:
    data = data_of("transit")
    data["auth"]["secret_env"] = "CARDHUB_CONNECTOR_TRANSIT__SECRET"
    problem = only(problems(data))
    assert problem.path == "auth"
    assert "exactly one of secret and secret_env" in problem.reason


def test_neither_secret_nor_secret_env() -> None:
    data = data_of("transit")
    del data["auth"]["secret"]
    problem = only(problems(data))
    assert problem.path == "auth"
    assert "exactly one of secret and secret_env" in problem.reason


def test_secret_env_alone_is_accepted() -> None:
    data = data_of("transit")
    del data["auth"]["secret"]
    data["auth"]["secret_env"] = "CARDHUB_CONNECTOR_TRANSIT__SECRET"
    manifest = parse(json.dumps(data))
    assert "secret" not in manifest.secret_free()["auth"]
    assert manifest.secret_free()["auth"]["secret_env"] == "CARDHUB_CONNECTOR_TRANSIT__SECRET"


def test_card_number_pattern_must_compile() -> None:
    data = data_of("social_security")
    data["card_number_pattern"] = "[0-9"
    problem = only(problems(data))
    assert problem.path == "card_number_pattern"
    assert problem.reason.startswith("not a regular expression")


def test_pagination_needs_items() -> None:
    data = data_of("transit")
    del data["resources"]["trips"]["items"]
    assert only(problems(data)) == Problem(path="resources.trips", reason="pagination needs items")


def test_page_pagination_with_both_totals() -> None:
    data = data_of("health")
    data["resources"]["visits"]["pagination"]["total_items"] = "total"
    problem = only(problems(data))
    assert problem.path == "resources.visits.pagination"
    assert "exactly one of total_pages and total_items" in problem.reason


def test_page_pagination_with_neither_total() -> None:
    data = data_of("health")
    del data["resources"]["visits"]["pagination"]["total_pages"]
    problem = only(problems(data))
    assert problem.path == "resources.visits.pagination"
    assert "exactly one of total_pages and total_items" in problem.reason


def test_mapping_and_adapter_together() -> None:
    data = data_of("transit")
    data["adapter"] = "transit_v2"
    assert "exactly one of mapping and adapter" in only(problems(data)).reason


# --- the mapping against the section's types (connectors.mapping_checks.check) ------------------------------


def test_field_the_section_does_not_have() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["colour"] = "card.colour"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.colour"
    assert "transit section has no such field" in problem.reason
    assert "card_number, balance, concession, trips" in problem.reason


def test_section_field_left_unmapped() -> None:
    data = data_of("transit")
    del data["mapping"]["fields"]["balance"]
    problem = only(problems(data))
    assert problem.path == "mapping.fields.balance"
    assert problem.reason.startswith("required")


def test_list_item_field_left_unmapped() -> None:
    data = data_of("transit")
    del data["mapping"]["lists"]["trips"]["fields"]["line"]
    problem = only(problems(data))
    assert problem.path == "mapping.lists.trips.fields.line"
    assert problem.reason.startswith("required")


def test_list_item_field_the_item_does_not_have() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["fields"]["colour"] = "colour"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.trips.fields.colour"
    assert "the item has no field 'colour'" in problem.reason


def test_path_naming_a_resource_that_does_not_exist() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["card_number"] = "wallet.cardNumber"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.card_number"
    assert "no resource 'wallet'" in problem.reason


def test_top_level_field_from_a_list_resource() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["card_number"] = "trips.cardNumber"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.card_number"
    assert "'trips' is a list resource" in problem.reason


def test_money_on_a_field_that_is_not_an_amount() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["card_number"] = {"path": "card.cardNumber", "money": "fen"}
    problem = only(problems(data))
    assert problem.path == "mapping.fields.card_number.money"
    assert "not an amount" in problem.reason


def test_amount_without_money() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["balance"] = "card.balance"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.balance.money"
    assert "an amount needs money" in problem.reason


def test_sum_of_text() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["card_number"] = {"sum": ["card.a", "card.b"]}
    problem = only(problems(data))
    assert problem.path == "mapping.fields.card_number.sum"
    assert "only amounts can be summed" in problem.reason


def test_date_without_its_format() -> None:
    data = data_of("health")
    data["mapping"]["lists"]["visits"]["fields"]["on"] = "visit_date"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.visits.fields.on.date"
    assert "a date needs its format" in problem.reason


def test_date_format_without_a_directive() -> None:
    data = data_of("health")
    data["mapping"]["lists"]["visits"]["fields"]["on"]["date"] = "YYYY-MM-DD"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.visits.fields.on.date"
    assert "not a strptime format" in problem.reason


def test_enum_value_that_is_not_a_member() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["fields"]["mode"]["enum"]["BRT"] = "TRAM"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.trips.fields.mode.enum.BRT"
    assert "'TRAM' is not one of BUS, METRO, FERRY" in problem.reason


def test_enum_field_without_a_table() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["concession"] = "card.concession"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.concession.enum"
    assert "NONE, SENIOR, STUDENT, DISABLED" in problem.reason


def test_boolean_enum_values_must_be_booleans() -> None:
    data = data_of("library")
    data["mapping"]["lists"]["reservations"]["fields"]["ready_for_pickup"]["enum"]["WAITING"] = "no"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.reservations.fields.ready_for_pickup.enum.WAITING"
    assert "true or false" in problem.reason


def test_nullable_on_a_field_that_is_never_null() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["card_number"] = {"path": "card.cardNumber", "nullable": True}
    problem = only(problems(data))
    assert problem.path == "mapping.fields.card_number.nullable"
    assert "never null" in problem.reason


def test_skip_unknown_only_for_lists_of_values() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["fields"]["mode"]["unknown"] = "skip"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.trips.fields.mode.unknown"
    assert "only a list of values" in problem.reason


def test_sort_by_naming_a_missing_item_field() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["sort_by"] = "when"
    problem = only(problems(data))
    assert problem.path == "mapping.lists.trips.sort_by"
    assert "the item has no field 'when'" in problem.reason


def test_list_from_a_single_resource() -> None:
    data = data_of("transit")
    data["mapping"]["lists"]["trips"]["from"] = "card"
    found = problems(data)
    assert reason_at(found, "mapping.lists.trips.from") == "'card' is not a list resource"


def test_list_of_records_under_fields() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["trips"] = "card.trips"
    problem = only(problems(data))
    assert problem.path == "mapping.fields.trips"
    assert "map it under mapping.lists" in problem.reason


def test_resource_not_used_by_the_mapping() -> None:
    data = data_of("transit")
    data["resources"]["wallet"] = {"path": "/v1/citizens/{card_number}/wallet"}
    problem = only(problems(data))
    assert problem.path == "resources.wallet"
    assert "not used by the mapping" in problem.reason


def test_placeholder_naming_no_resource() -> None:
    data = data_of("transit")
    data["resources"]["trips"]["path"] = "/v1/cards/{nosuch.field}/trips"
    problem = only(problems(data))
    assert problem.path == "resources.trips.path"
    assert "{nosuch.field}: no resource 'nosuch'" in problem.reason


def test_placeholder_naming_a_list_resource() -> None:
    data = data_of("library")
    data["resources"]["loans"]["path"] = "/opac/api/patrons/{holds.patronId}/loans"
    problem = only(problems(data))
    assert problem.path == "resources.loans.path"
    assert problem.reason.startswith("{holds.patronId}: may name only a single (not list) resource")


def test_placeholder_without_a_resource() -> None:
    data = data_of("library")
    data["resources"]["loans"]["path"] = "/opac/api/patrons/{patronId}/loans"
    problem = only(problems(data))
    assert problem.path == "resources.loans.path"
    assert "use {card_number} or {resource.field}" in problem.reason


# --- every problem at once -------------------------------------------------------------------------------


def test_schema_problems_are_all_reported() -> None:
    data = data_of("transit")
    data["timeout_seconds"] = 0
    data["auth"]["colour"] = "blue"
    data["retry"]["attempts"] = 9
    del data["contract"]
    with pytest.raises(ManifestError) as caught:
        parse(json.dumps(data))
    paths = sorted(p.path for p in caught.value.problems)
    assert paths == ["auth.colour", "contract", "retry.attempts", "timeout_seconds"]
    assert "auth.colour: unknown key" in str(caught.value)
    assert "contract: required" in str(caught.value)


def test_mapping_problems_are_all_reported() -> None:
    data = data_of("transit")
    data["mapping"]["fields"]["colour"] = "card.colour"
    del data["mapping"]["fields"]["balance"]
    data["mapping"]["lists"]["trips"]["sort_by"] = "when"
    data["resources"]["trips"]["path"] = "/v1/cards/{nosuch.field}/trips"
    paths = sorted(p.path for p in problems(data))
    assert paths == [
        "mapping.fields.balance",
        "mapping.fields.colour",
        "mapping.lists.trips.sort_by",
        "resources.trips.path",
    ]


# --- hostile input ----------------------------------------------------------------------------------


def _padded(size: int, filler: str = "#") -> str:
    """The health manifest padded with a trailing TOML comment to ``size`` bytes of UTF-8."""
    text = builtin_manifest("health").to_toml() + "\n#"
    missing = size - len(text.encode())
    unit = len(filler.encode())
    assert missing >= 0
    assert missing % unit == 0
    return text + filler * (missing // unit)


def test_a_manifest_of_exactly_the_limit_is_accepted() -> None:
    text = _padded(MAX_MANIFEST_BYTES)
    assert len(text.encode()) == MAX_MANIFEST_BYTES
    assert parse(text).agency == "health"


def test_oversized_text_is_refused_by_its_size() -> None:
    text = _padded(MAX_MANIFEST_BYTES + 1)
    problem = only(problems(text))
    assert problem.path == ""
    assert problem.reason == f"manifest is larger than the limit of {MAX_MANIFEST_BYTES} bytes"


def test_oversized_text_is_refused_before_parsing() -> None:
    text = "[[[ not even TOML " * (MAX_MANIFEST_BYTES // 10)
    problem = only(problems(text))
    assert "larger than the limit" in problem.reason
    assert "TOML" not in problem.reason


def test_the_limit_counts_bytes_not_characters() -> None:
    text = "# " + "。" * (MAX_MANIFEST_BYTES // 3)  # 3 bytes each in UTF-8
    assert len(text) < MAX_MANIFEST_BYTES < len(text.encode())
    assert "larger than the limit" in only(problems(text)).reason


def test_invalid_toml() -> None:
    problem = only(problems('agency = "health"\nname = \n'))
    assert problem.path == ""
    assert problem.reason.startswith("not valid TOML")
    assert "line 2" in problem.reason


def test_invalid_json() -> None:
    problem = only(problems('{"agency": "health",}'))
    assert problem.path == ""
    assert problem.reason.startswith("not valid JSON")


def test_invalid_utf8() -> None:
    problem = only(problems(b'agency = "\xff\xfe"\n'))
    assert problem.path == ""
    assert problem.reason == "manifest is not UTF-8 text"


def test_json_array_at_top_level() -> None:
    problem = only(problems('[{"agency": "health"}]', source_format="json"))
    assert problem == Problem(path="", reason="a manifest is a table (an object) at the top")


def test_json_array_without_a_format_is_read_as_toml() -> None:
    # Only "{" announces JSON; anything else is read as TOML and refused as such.
    problem = only(problems('[{"agency": "health"}]'))
    assert problem.path == ""
    assert problem.reason.startswith("not valid TOML")


@pytest.mark.parametrize("source_format", [None, "json"])
def test_hundred_thousand_brackets(source_format: str | None) -> None:
    problem = only(problems("[" * 100_000, source_format=source_format))
    assert problem.path == ""


def test_deeply_nested_json_within_the_limit() -> None:
    text = '{"agency": ' + "[" * 60_000
    assert len(text.encode()) <= MAX_MANIFEST_BYTES
    problem = only(problems(text))
    assert problem.path == ""
    assert problem.reason.startswith("not valid JSON")


def test_deeply_nested_toml_within_the_limit() -> None:
    problem = only(problems("agency = " + "[" * 60_000))
    assert problem.path == ""
    assert problem.reason.startswith("not valid TOML")


def test_empty_text_lists_every_required_key() -> None:
    paths = {p.path for p in problems("") if p.reason == "required"}
    assert paths == {"agency", "name", "section", "base_url", "auth", "contract"}


# --- the published schema ---------------------------------------------------------------------------


def test_json_schema() -> None:
    schema = json_schema()
    assert isinstance(schema, dict)
    assert "manifest" in schema["title"]
    assert {"agency", "section", "auth", "resources", "mapping", "contract"} <= set(schema["properties"])
    assert set(schema["required"]) >= {"agency", "section", "auth", "contract"}
    json.dumps(schema)  # publishable as is


# --- operator overrides and adapters ------------------------------------------------------------------


def test_overrides_change_url_and_secret() -> None:
    manifest = builtin_manifest("health")
    changed = with_overrides(manifest, {"url": "http://x:1", "secret": "s2"})
    assert changed.base_url == "http://x:1"
    assert secret_of(changed) == "s2"
    assert changed.mapping == manifest.mapping
    assert secret_of(manifest) == "sandbox-key-health"  # the original is untouched


def test_no_overrides_keep_the_manifest() -> None:
    manifest = builtin_manifest("health")
    assert with_overrides(manifest, {}) is manifest


def test_unknown_override() -> None:
    with pytest.raises(ConnectorConfigError, match=r"health: unknown settings \['colour'\]"):
        with_overrides(builtin_manifest("health"), {"colour": 1})


def test_override_that_breaks_the_manifest_names_the_field() -> None:
    with pytest.raises(ConnectorConfigError, match=r"base_url: must be an http or https URL"):
        with_overrides(builtin_manifest("health"), {"url": "ftp://x"})


def test_non_numeric_timeout_override_is_a_config_error() -> None:
    with pytest.raises(ConnectorConfigError, match="timeout_seconds"):
        with_overrides(builtin_manifest("health"), {"timeout_seconds": "fast"})


def test_missing_adapter() -> None:
    with pytest.raises(ManifestError) as caught:
        adapter_class("nope")
    problem = only(caught.value.problems)
    assert problem.path == "adapter"
    assert "no adapter 'nope' is installed" in problem.reason


def test_identity_is_for_single_records_only() -> None:
    data = data_of("transit")
    data["resources"]["trips"]["identity"] = "cardNumber"
    problem = only(problems(data))
    assert problem.path == "resources.trips"
    assert "single record" in problem.reason


def test_a_mapping_needs_responses() -> None:
    data = data_of("health")
    del data["responses"]
    problem = only(problems(data))
    assert "needs responses" in problem.reason
