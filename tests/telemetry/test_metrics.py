"""Labels a client can choose stay bounded: cleaned, shortened, and capped per process."""

from __future__ import annotations

import pytest

from telemetry import metrics


def test_operation_names_are_cleaned_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_operations", set())
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label('Evil"}\nname' + "x" * 100) == "Evil___name" + "x" * 53
    for i in range(metrics.MAX_OPERATIONS):
        metrics.operation_label(f"Op{i}")
    assert metrics.operation_label("OneTooMany") == metrics.OTHER
    assert metrics.operation_label("Op7") == "Op7"  # known ones keep their label


def test_grant_types_outside_the_catalogue_count_as_other() -> None:
    metrics.token_request("urn:made-up", "unsupported_grant_type")
    assert metrics.TOKEN_REQUESTS.labels("other", "unsupported_grant_type")._value.get() >= 1
