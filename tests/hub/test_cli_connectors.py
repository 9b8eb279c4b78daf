"""``cardhub connectors``, run as an operator runs it, on a scratch database and the running sandbox."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from connectors.manifest_parsing import json_schema
from sandbox import credentials
from sandbox.runner import Sandbox
from tests.conftest import manifest_data
from tests.hub.test_cli import cardhub
from tests.production import production_env

SECRETS = (credentials.TRANSIT_CLIENT_SECRET, credentials.LIBRARY_API_KEY, credentials.HEALTH_API_KEY)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CARDHUB_DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}"}


def manifest_file(tmp_path: Path, sandbox: Sandbox, source: str = "transit", **changes: Any) -> Path:
    data = manifest_data(sandbox, source)
    data.update(changes)
    path = tmp_path / f"{source}-{len(list(tmp_path.iterdir()))}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def no_secrets(*outputs: str) -> None:
    for secret in SECRETS:
        assert all(secret not in out for out in outputs)


def listing(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    result = cardhub("connectors", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {c["agency"]: c for c in json.loads(result.stdout)}


def test_a_fresh_database_lists_the_five_built_in_connectors(env: dict[str, str]) -> None:
    connectors = listing(env)
    assert set(connectors) == {"social_security", "transit", "health", "housing_fund", "library"}
    assert all(c["version"] == 1 and c["enabled"] and c["registeredBy"] == "builtin" for c in connectors.values())


@pytest.mark.parametrize("as_json", [False, True])
def test_export_prints_the_manifest_in_force_without_its_secret(env: dict[str, str], as_json: bool) -> None:
    result = cardhub("connectors", "export", "transit", *(["--json"] if as_json else []), env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout) if as_json else tomllib.loads(result.stdout)
    assert data["agency"] == "transit"
    assert data["auth"]["secret"] == "<redacted>"
    no_secrets(result.stdout, result.stderr)


def test_validate_names_every_problem_and_exits_1(tmp_path: Path, env: dict[str, str]) -> None:
    good = tmp_path / "health.toml"
    good.write_text((ROOT / "connectors/manifests/health.toml").read_text())
    ok = cardhub("connectors", "validate", "--offline", str(good), env=env)
    assert (ok.returncode, ok.stdout.strip()) == (0, "health: manifest is valid (not contract-tested: --offline)")

    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace('kind = "api_key"', 'kind = "api_key"\ncolour = "blue"') + "\nextra = 1\n")
    refused = cardhub("connectors", "validate", "--offline", str(bad), env=env)
    assert refused.returncode == 1
    assert "  auth.colour: unknown key" in refused.stderr.splitlines()
    assert "  contract.extra: unknown key" in refused.stderr.splitlines()  # appended after [contract]
    assert "Traceback" not in refused.stderr

    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 20_000)
    assert "larger than the limit of 65536 bytes" in cardhub("connectors", "validate", str(huge), env=env).stderr
    missing = cardhub("connectors", "validate", str(tmp_path / "nothing.toml"), env=env)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_register_show_rollback_disable_enable(tmp_path: Path, env: dict[str, str], sandbox: Sandbox) -> None:
    path = manifest_file(tmp_path, sandbox, cache_ttl_seconds=30)
    validated = cardhub("connectors", "validate", str(path), env=env)
    assert validated.returncode == 0, validated.stderr
    assert "contract test read 350200000001" in validated.stdout

    registered = cardhub("connectors", "register", str(path), env=env)
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.startswith("transit: version 2 is in force")
    again = cardhub("connectors", "register", str(path), env=env)
    assert again.stdout.strip() == "transit: unchanged, version 2 is already in force"

    shown = cardhub("connectors", "show", "transit", "--json", env=env)
    detail = json.loads(shown.stdout)
    assert detail["version"] == 2
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert [v["registeredBy"] for v in detail["versions"]] == ["cli", "builtin"]

    assert cardhub("connectors", "rollback", "transit", env=env).stdout.startswith("transit: version 1 is in force")
    none_left = cardhub("connectors", "rollback", "transit", env=env)
    assert none_left.returncode == 1 and "no version before 1" in none_left.stderr
    assert cardhub("connectors", "rollback", "transit", "--to", "2", env=env).returncode == 0
    assert listing(env)["transit"]["version"] == 2
    exported = tomllib.loads(cardhub("connectors", "export", "transit", "--version", "2", env=env).stdout)
    assert exported["cache_ttl_seconds"] == 30

    assert cardhub("connectors", "disable", "transit", env=env).returncode == 0
    assert listing(env)["transit"]["enabled"] is False
    twice = cardhub("connectors", "disable", "transit", env=env)
    assert twice.returncode == 1 and "already disabled" in twice.stderr
    assert cardhub("connectors", "enable", "transit", env=env).returncode == 0
    assert listing(env)["transit"] == {**listing(env)["transit"], "enabled": True, "version": 2}
    no_secrets(registered.stdout, registered.stderr, shown.stdout)


def test_a_failed_contract_test_stores_nothing(tmp_path: Path, env: dict[str, str], sandbox: Sandbox) -> None:
    path = manifest_file(tmp_path, sandbox, "library")
    text = path.read_text().replace('"patron.cardNumber"', '"patron.libraryCardNo"')
    path.write_text(text)
    failed = cardhub("connectors", "register", str(path), env=env)
    assert failed.returncode == 1
    assert "contract test failed" in failed.stderr and "patron.libraryCardNo" in failed.stderr
    assert listing(env)["library"]["version"] == 1
    shown = json.loads(cardhub("connectors", "show", "library", "--json", env=env).stdout)
    assert len(shown["versions"]) == 1


def test_a_section_served_by_another_agency_is_refused(tmp_path: Path, env: dict[str, str], sandbox: Sandbox) -> None:
    path = manifest_file(tmp_path, sandbox, "library", agency="city_library")
    refused = cardhub("connectors", "register", str(path), env=env)
    assert refused.returncode == 1
    assert "section: the library section is bound to agency 'library'" in refused.stderr
    assert "city_library" not in listing(env)
    # Bound to the new agency by the operator, it still waits for the old connector to step aside.
    rebound = {**env, "CARDHUB_SECTION_OWNERS": "library=city_library"}
    refused = cardhub("connectors", "register", str(path), env=rebound)
    assert refused.returncode == 1
    assert "section: the library section is served by agency 'library'" in refused.stderr
    assert "city_library" not in listing(env)


def test_unknown_connector_is_a_clear_refusal(env: dict[str, str]) -> None:
    for command in (["show", "parking"], ["export", "parking"], ["disable", "parking"], ["rollback", "parking"]):
        result = cardhub("connectors", *command, env=env)
        assert result.returncode == 1, command
        assert "parking" in result.stderr and "Traceback" not in result.stderr


def test_the_published_json_schema_is_the_one_the_hub_checks_against() -> None:
    published = json.loads((ROOT / "docs/connector-manifest.schema.json").read_text())
    assert published == json_schema()
    printed = cardhub("connectors", "schema")
    assert json.loads(printed.stdout) == published


def test_production_accepts_only_https_agency_urls(tmp_path: Path, env: dict[str, str], sandbox: Sandbox) -> None:
    production = {**env, **production_env(loopback_agencies=False)}
    refused = cardhub("connectors", "register", str(manifest_file(tmp_path, sandbox)), env=production)
    assert refused.returncode == 1
    assert "base_url: 127.0.0.1: plain http is allowed only to hosts the operator lists" in refused.stderr


def test_the_operator_can_limit_where_agency_connectors_point(
    tmp_path: Path, env: dict[str, str], sandbox: Sandbox
) -> None:
    limited = {**env, "CARDHUB_AGENCY_URL_PREFIXES": "https://etong.example/, https://gw.example/"}
    refused = cardhub("connectors", "register", str(manifest_file(tmp_path, sandbox)), env=limited)
    assert refused.returncode == 1
    assert "base_url: not among the addresses the hub's operator allows" in refused.stderr


def test_an_exported_manifest_validates_with_the_secret_in_force(
    tmp_path: Path, env: dict[str, str], sandbox: Sandbox
) -> None:
    assert (
        cardhub(
            "connectors", "register", str(manifest_file(tmp_path, sandbox, cache_ttl_seconds=9)), env=env
        ).returncode
        == 0
    )
    exported = tmp_path / "exported.toml"
    exported.write_text(cardhub("connectors", "export", "transit", env=env).stdout)
    assert 'secret = "<redacted>"' in exported.read_text()
    validated = cardhub("connectors", "validate", str(exported), env=env)
    assert validated.returncode == 0, validated.stderr
    assert "contract test read" in validated.stdout
