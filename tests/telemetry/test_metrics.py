"""Labels a client can choose stay bounded: cleaned, shortened, and capped per process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram

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


def test_the_grafana_dashboard_uses_only_metrics_the_hub_has() -> None:
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    used = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"cardhub_[a-z_]+", target["expr"])
    }
    defined = {m._name for m in vars(metrics).values() if isinstance(m, Counter | Gauge | Histogram)}
    assert used and used <= defined, used - defined
    assert defined - used == set(), "every metric has a panel"
