from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import Settings, SettingsError, load
from tests.production import production_env

SANDBOX = {"CARDHUB_MODE": "sandbox"}


def test_production_is_the_default_and_names_every_setting_it_misses() -> None:
    assert Settings().mode == "production"
    with pytest.raises(SettingsError) as refused:
        load({})
    message = str(refused.value)
    assert "production needs these settings" in message
    assert "issuer (CARDHUB_ISSUER)" in message and "secrets_key (CARDHUB_SECRETS_KEY)" in message
    settings = load({}, default_mode="sandbox")  # cardhub demo, cardhub sandbox, cardhub token
    assert settings == Settings(mode="sandbox")
    assert settings.database_url.startswith("sqlite://")
    assert settings.graphiql_enabled
    assert load({"CARDHUB_MODE": "production", **production_env()}, default_mode="sandbox").mode == "production"


def test_environment_overrides_the_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "cardhub.toml"
    config.write_text('port = 9001\nmax_page_size = 50\n[agencies.transit]\nurl = "http://file"\n')
    settings = load({**SANDBOX, "CARDHUB_PORT": "9002", "CARDHUB_AGENCY_TRANSIT_SECRET": "s3cret"}, str(config))
    assert settings.port == 9002
    assert settings.max_page_size == 50
    assert settings.agencies["transit"] == {"url": "http://file", "secret": "s3cret"}


def test_database_url_alias_and_production_mode() -> None:
    with pytest.raises(SettingsError, match="issuer"):
        load({"CARDHUB_MODE": "production"})
    settings = load({"DATABASE_URL": "postgres://db/x", **production_env("https://h")})
    assert settings.database_url == "postgres://db/x"
    assert not settings.graphiql_enabled
    # Production never falls back to the sandbox's credentials.
    assert settings.agency_config("transit") == {}


def test_sandbox_mode_falls_back_to_the_sandbox_agencies() -> None:
    config = load({**SANDBOX, "CARDHUB_AGENCY_HEALTH_URL": "http://127.0.0.1:1"}).agency_config("health")
    assert config["url"] == "http://127.0.0.1:1"
    assert config["auth"] == "api_key"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARDHUB_PORT": "eighty"}, "setting port"),
        ({"CARDHUB_GRAPHIQL": "maybe"}, "setting graphiql"),
        ({"CARDHUB_MODE": "staging"}, "mode"),
        ({"CARDHUB_AGENCY_TIMEOUT_SECONDS": "0"}, "agency_timeout_seconds"),
        ({"CARDHUB_DEFAULT_PAGE_SIZE": "500"}, "default_page_size"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(env)


def test_bad_config_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load(SANDBOX, str(tmp_path / "missing.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("port = [")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(SANDBOX, str(broken))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="unknown settings"):
        load(SANDBOX, str(unknown))
    agency = tmp_path / "agency.toml"
    agency.write_text('[agencies.parking]\nurl = "http://x"\n')
    with pytest.raises(SettingsError, match="unknown agency"):
        load(SANDBOX, str(agency))


def test_secrets_stay_out_of_repr() -> None:
    settings = load({**SANDBOX, "CARDHUB_AGENCY_TRANSIT_SECRET": "s3cret"})
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[agencies.transit]\nsecert = "x"\n', "unknown keys"),
        ('[agencies.transit]\nauth = "password"\n', "must be one of"),
        ("[agencies.transit]\ntimeout_seconds = 0\n", "must be positive"),
        ('[agencies.transit]\nmax_connections = "lots"\n', "not a number"),
        ('log_level = "verbose"\n', "log_level"),
        ("agency_max_connections = 0\n", "at least 1"),
        ("sandbox_token_ttl_seconds = 0\n", "at least 1"),
    ],
)
def test_agency_tables_and_limits_are_checked_when_loaded(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "cardhub.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError, match=message):
        load(SANDBOX, str(config))


def test_max_connections_can_come_from_the_environment() -> None:
    settings = load({**SANDBOX, "CARDHUB_AGENCY_LIBRARY_MAX_CONNECTIONS": "7"})
    assert settings.agencies["library"]["max_connections"] == "7"


def test_sqlite_commits_do_not_wait_for_fsync_unless_asked() -> None:
    from hub.database import with_defaults

    assert with_defaults("sqlite://data/hub.sqlite3") == "sqlite://data/hub.sqlite3?synchronous=NORMAL"
    assert with_defaults("sqlite://a.db?journal_mode=WAL") == "sqlite://a.db?journal_mode=WAL&synchronous=NORMAL"
    assert with_defaults("sqlite://a.db?synchronous=FULL") == "sqlite://a.db?synchronous=FULL"
    assert with_defaults("sqlite://:memory:") == "sqlite://:memory:"
    assert with_defaults("postgres://db/x") == "postgres://db/x"


def test_every_setting_is_documented() -> None:
    from dataclasses import fields as dataclass_fields

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [f.name for f in dataclass_fields(Settings) if f"| `{f.name}` |" not in doc]
    assert missing == [], f"settings without a row in docs/configuration.md: {missing}"
