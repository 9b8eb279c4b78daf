"""Settings: built-in defaults, then an optional TOML file, then environment variables.

Every setting is listed in docs/configuration.md. Agency credentials are secrets: they are never
logged, and ``Settings.__repr__`` leaves them out.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cardverify.format import MAX_LIFETIME_SECONDS
from connectors.domain import AGENCY_IDS
from connectors.outbound import OutboundPolicy
from connectors.policy import DEFAULT_SECTION_OWNERS
from connectors.registry import OVERRIDE_KEYS
from keys.keyring import CACHE, PURPOSES, Keyring, KeySettingError, Purpose

AGENCY_KEYS = OVERRIDE_KEYS  # the [agencies.ID] settings override a built-in manifest's
AUTH_KINDS = ("api_key", "oauth2_client_credentials", "hmac", "none")
MODES = ("sandbox", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    # production unless told otherwise; sandbox: sandbox tokens, GraphiQL, registry seeded from personas,
    # agencies anywhere over plain http. Chosen by CARDHUB_MODE=sandbox, `cardhub demo`, `cardhub sandbox`.
    mode: str = "production"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite://cardhub-data/cardhub.sqlite3"
    graphiql: bool | None = None  # None: on in sandbox mode, off in production
    agency_timeout_seconds: float = 3.0
    agency_max_connections: int = 100
    # The section cache: "" or "memory" in this process (the default), "redis://host:6379/0" shared by
    # every instance (REDIS_URL when this is unset), "off" for none.
    cache_url: str = field(default="", repr=False)  # a Redis URL may carry a password
    cache_stale_seconds: float = 3600.0  # how long past its TTL a copy may stand in for a failing agency
    cache_max_entries: int = 100_000  # the in-process cache's bound
    connector_poll_seconds: float = 2.0  # how soon a connector change made elsewhere is in force here
    # URL prefixes agency-registered connectors may point at ("https://api.etong.example/"); empty: any.
    agency_url_prefixes: tuple[str, ...] = ()
    # Outside sandbox mode, agency calls never reach loopback, private, link-local, multicast or cloud
    # metadata addresses, except those inside these networks ("10.20.0.0/16"), and only go over https,
    # except to these hosts (an agency gateway reached over an encrypted link of its own).
    agency_allowed_networks: tuple[str, ...] = ()
    agency_plain_http_hosts: tuple[str, ...] = ()
    # section -> the one agency that may serve it (register, update, disable its connector). The five
    # built-in sections are bound to the agencies of the same name; set one to "" to bind it to none.
    section_owners: Mapping[str, str] = field(default_factory=dict)
    # Keys (keys/keyring.py): "KID:KEY[,KID:KEY...]", the first current. Required in production.
    secrets_key: str = field(default="", repr=False)  # connector secrets at rest
    cache_key: str = field(default="", repr=False)  # the shared cache's keys and values
    checkpoint_key: str = field(default="", repr=False)  # the access log's signed checkpoints
    card_key: str = field(default="", repr=False)  # virtual card credentials
    receipts_key: str = field(default="", repr=False)  # consent receipts
    events_key: str = field(default="", repr=False)  # security events pushed to data users
    # A virtual card credential lives this long (terminals refuse more than 300 s): a card reported lost
    # has no valid credential left this long after the report.
    card_credential_ttl_seconds: int = 300
    max_page_size: int = 100
    default_page_size: int = 20
    max_query_depth: int = 12
    max_aliases: int = 30
    # The GraphQL edge (docs/security.md): limits on every request, and who may see and send what.
    max_body_bytes: int = 1_048_576  # a bigger request body gets 413, unread
    max_tokens: int = 5000  # lexer tokens in a document
    max_directives: int = 10  # directives at one location of a document
    max_cost: int = 10_000  # field resolutions a query may cause, lists counted at their page size
    request_budget_seconds: float = 15.0  # wall-clock time one request may take
    # Production: clients that see introspection and "Did you mean" suggestions, and may send free-form
    # documents (the operator's own tools).
    developer_clients: tuple[str, ...] = ()
    # Production: agency and confidential clients that may send free-form documents, not only registered
    # ones (public clients never may).
    free_form_clients: tuple[str, ...] = ()
    # Bearer token for /readyz/details from off the machine (loopback needs none). "": loopback only.
    operator_token: str = field(default="", repr=False)
    sandbox_token_ttl_seconds: int = 3600
    issuer: str = ""  # the authorization server's URL (RFC 8414); empty: http://{host}:{port}
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # A duplicate refresh from the same client this soon after a rotation gets the same new pair (two
    # requests in flight at once); later, a reused refresh token revokes its grant. 0: no grace.
    refresh_grace_seconds: float = 10.0
    # Housekeeping (hub/housekeeping.py): every instance deletes expired and revoked tokens and codes
    # about every prune_interval_seconds (0: never; `cardhub db prune` still does), prune_after_seconds
    # after they expired or were revoked, prune_batch_size rows per statement.
    prune_interval_seconds: float = 3600.0
    prune_after_seconds: int = 3600
    prune_batch_size: int = 1000
    # Citizens' rights (docs/consent.md). Data exports: at most export_per_day per citizen in 24 hours,
    # download links live export_link_seconds, archives are wiped export_keep_seconds after they are done;
    # the PDF's CJK font (hub/export_pdf.py; "": the first Debian CJK font found).
    export_per_day: int = 3
    export_link_seconds: int = 300
    export_keep_seconds: int = 3600
    export_font_file: str = ""
    # Security events (auth/events.py): the outbox is pushed every event_interval_seconds; a failed push
    # waits event_backoff_seconds, doubled per failure, and event_max_attempts failures in a row mark the
    # stream failing; each push waits event_timeout_seconds for the receiver's 202.
    event_interval_seconds: float = 2.0
    event_backoff_seconds: float = 1.0
    event_max_attempts: int = 8
    event_timeout_seconds: float = 5.0
    # Citizen login (/login): attempts per account and per client address within the window before each
    # further one waits, the wait doubling from login_delay_seconds up to login_max_delay_seconds.
    # Shared by every instance when cache_url is a Redis URL.
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 50
    login_window_seconds: int = 900
    login_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 900.0
    login_hash_workers: int = 2  # password checks (scrypt) running at once; the rest wait their turn
    log_level: str = "INFO"
    log_format: str = ""  # "json" or "text"; "": text in sandbox mode, JSON in production (docs/operations.md)
    # The citizen pages' session cookie keys, "KID:KEY[,KID:KEY...]" like every key (keys/keyring.py):
    # the first signs, all verify. Production needs it once citizens log in (oidc_issuer).
    session_secret: str = field(default="", repr=False)
    session_lifetime_seconds: int = 8 * 3600  # a login ends this long after it happened
    session_idle_seconds: int = 30 * 60  # ... or this long after the citizen's last page, if sooner
    # Citizen login at the city's OpenID Provider (docs/operations.md). "": no provider (production
    # citizen login is then off; sandbox mode logs in the personas).
    oidc_issuer: str = ""
    oidc_discovery_url: str = ""  # "": {oidc_issuer}/.well-known/openid-configuration
    oidc_client_id: str = ""
    oidc_client_auth: str = "client_secret_basic"  # or client_secret_post, private_key_jwt
    oidc_client_secret: str = field(default="", repr=False)
    oidc_private_key_file: str = ""  # PEM private key, for private_key_jwt
    oidc_scopes: tuple[str, ...] = ("openid", "profile")
    # The claim carrying the citizen's card number; "": the operator links subjects to cards
    # (cardhub citizens link SUB CARD).
    oidc_card_claim: str = ""
    oidc_max_age_seconds: int = 3600  # how long ago the citizen may have signed in at the provider
    oidc_timeout_seconds: float = 5.0  # each call to the provider
    oidc_leeway_seconds: int = 60  # clock difference allowed on the ID token's times
    # agency id -> {url, auth, header, secret, client_id, app_id, token_path, timeout_seconds}
    agencies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.mode == "sandbox"

    @property
    def issuer_url(self) -> str:
        return (self.issuer or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def graphiql_enabled(self) -> bool:
        return self.is_sandbox if self.graphiql is None else self.graphiql

    @property
    def shared_cache(self) -> bool:
        return self.cache_url.startswith(("redis://", "rediss://"))

    @property
    def required_keys(self) -> tuple[Purpose, ...]:
        """Keys production needs: the cache's only when the cache is shared (Redis)."""
        return tuple(p for p in PURPOSES if p.required and (p is not CACHE or self.shared_cache))

    def keyring(self) -> Keyring:
        """The hub's keys (build once: a purpose without a key may get one of this process only)."""
        values = {p.setting: getattr(self, p.setting) for p in PURPOSES}
        return Keyring.load(values, sandbox=self.is_sandbox, required=self.required_keys)

    @property
    def outbound(self) -> OutboundPolicy:
        return OutboundPolicy.from_strings(
            sandbox=self.is_sandbox,
            networks=self.agency_allowed_networks,
            plain_http_hosts=self.agency_plain_http_hosts,
        )

    @property
    def all_section_owners(self) -> dict[str, str]:
        """section -> agency: the built-in bindings with the operator's on top ("" binds to none)."""
        return {**DEFAULT_SECTION_OWNERS, **self.section_owners}

    def agency_config(self, agency: str) -> Mapping[str, Any]:
        """The agency's settings; in sandbox mode anything unset falls back to the sandbox's own."""
        configured = dict(self.agencies.get(agency, {}))
        if not self.is_sandbox:
            return configured
        from sandbox.runner import agency_configs  # the hub may read what the sandbox expects

        return {**agency_configs()[agency], **configured}

    def with_agencies(self, agencies: Mapping[str, Mapping[str, Any]]) -> Settings:
        merged = {a: {**self.agencies.get(a, {}), **agencies.get(a, {})} for a in {*self.agencies, *agencies}}
        return replace(self, agencies=merged)


def load(
    environ: Mapping[str, str] | None = None, config_file: str | None = None, default_mode: str = "production"
) -> Settings:
    """``default_mode`` applies when neither the environment nor the file names a mode: production,
    except for the commands that exist for the sandbox (``cardhub demo``, ``cardhub sandbox``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {"mode": default_mode}
    path = config_file or env.get("CARDHUB_CONFIG")
    if path:
        values.update(_from_file(Path(path)))
    from_env = _from_env(env)
    file_agencies = values.get("agencies", {})
    env_agencies = from_env.pop("agencies", {})
    values.update(from_env)
    if isinstance(file_agencies, Mapping) and env_agencies:
        # Per key, not per agency: a secret from the environment keeps the file's URL.
        values["agencies"] = {
            a: {**file_agencies.get(a, {}), **env_agencies.get(a, {})} for a in {*file_agencies, *env_agencies}
        }
    return _validated(values)


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    known = {f.name for f in fields(Settings)}
    unknown = set(data) - known
    if unknown:
        raise SettingsError(f"config file {path}: unknown settings {sorted(unknown)}")
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "agencies":
            continue
        raw = env.get(f"CARDHUB_{f.name.upper()}")
        if raw is not None:
            values[f.name] = raw
    if "database_url" not in values and env.get("DATABASE_URL"):
        values["database_url"] = env["DATABASE_URL"]
    if "cache_url" not in values and env.get("REDIS_URL"):
        values["cache_url"] = env["REDIS_URL"]
    agencies: dict[str, dict[str, str]] = {}
    for agency in AGENCY_IDS:
        for key in AGENCY_KEYS:
            raw = env.get(f"CARDHUB_AGENCY_{agency.upper()}_{key.upper()}")
            if raw is not None:
                agencies.setdefault(agency, {})[key] = raw
    if agencies:
        values["agencies"] = agencies
    return values


def _validated(values: dict[str, Any]) -> Settings:
    converted: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in values:
            continue
        raw = values[f.name]
        try:
            converted[f.name] = _convert(f.name, raw, f.type)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"setting {f.name}: {exc}") from None
    settings = Settings(**converted)
    if settings.mode not in MODES:
        raise SettingsError(f"setting mode: must be one of {', '.join(MODES)}, not {settings.mode!r}")
    for agency in settings.agencies:
        if agency not in AGENCY_IDS:
            raise SettingsError(f"unknown agency {agency!r} in settings; known: {', '.join(AGENCY_IDS)}")
    if not 1 <= settings.default_page_size <= settings.max_page_size:
        raise SettingsError("default_page_size must be between 1 and max_page_size")
    if settings.operator_token and len(settings.operator_token) < 32:
        raise SettingsError("setting operator_token: at least 32 characters (e.g. openssl rand -hex 32)")
    for name in (
        "agency_max_connections",
        "sandbox_token_ttl_seconds",
        "max_query_depth",
        "max_body_bytes",
        "max_tokens",
        "max_directives",
        "max_cost",
        "port",
        "access_token_ttl_seconds",
        "refresh_token_ttl_seconds",
        "prune_batch_size",
        "export_per_day",
        "export_link_seconds",
        "event_max_attempts",
    ):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name}: must be at least 1")
    missing = _missing_in_production(settings)
    if missing:
        raise SettingsError("production needs these settings: " + "; ".join(missing))
    try:
        settings.keyring()  # parsed now, so a bad key stops the start, naming its setting
        settings.outbound  # noqa: B018
    except (KeySettingError, ValueError) as exc:
        raise SettingsError(str(exc)) from None
    for section, agency in settings.section_owners.items():
        if section not in AGENCY_IDS:
            raise SettingsError(f"section_owners: unknown section {section!r}; known: {', '.join(AGENCY_IDS)}")
        if agency and not _AGENCY_ID.match(agency):
            raise SettingsError(f"section_owners.{section}: {agency!r} is not an agency id")
    if settings.cache_url not in ("", "memory", "off") and not settings.cache_url.startswith(("redis://", "rediss://")):
        raise SettingsError("setting cache_url: memory, off, or a redis:// URL")
    if settings.connector_poll_seconds < 0:
        raise SettingsError("setting connector_poll_seconds: must be 0 (off) or more")
    if not 10 <= settings.card_credential_ttl_seconds <= MAX_LIFETIME_SECONDS:
        raise SettingsError(f"setting card_credential_ttl_seconds: 10 to {MAX_LIFETIME_SECONDS}; terminals refuse more")
    _check_login_and_refresh(settings)
    _check_oidc(settings)
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"setting log_level: must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}")
    if settings.log_format not in ("", "json", "text"):
        raise SettingsError(f"setting log_format: json or text, not {settings.log_format!r}")
    for agency, table in settings.agencies.items():
        _check_agency(agency, table)
    return settings


def _missing_in_production(settings: Settings) -> list[str]:
    """Each setting production cannot start without, with what it is for."""
    if settings.is_sandbox:
        return []
    missing = []
    if not settings.issuer:
        missing.append("issuer (CARDHUB_ISSUER): the URL clients reach the hub at, e.g. https://hub.example")
    for purpose in settings.required_keys:
        if not getattr(settings, purpose.setting):
            missing.append(f"{purpose.setting} ({purpose.env}): {purpose.protects}; `cardhub keys generate` makes one")
    return missing


_AGENCY_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _section_owners(raw: Any) -> dict[str, str]:
    """A table {section = "agency"}, or "section=agency,section=agency" from the environment."""
    if isinstance(raw, str):
        pairs = [item.partition("=") for item in raw.replace(",", " ").split()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("expected section=agency pairs, e.g. transit=etong,health=health")
        return {section.strip(): agency.strip() for section, _, agency in pairs}
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise TypeError('must be a table of section = "agency"')
    return {str(k): v for k, v in raw.items()}


def _check_login_and_refresh(settings: Settings) -> None:
    if settings.refresh_grace_seconds > 60:
        raise SettingsError("setting refresh_grace_seconds: at most 60 (a grace for requests in flight, not a reuse)")
    for name in (
        "login_attempts_per_account",
        "login_attempts_per_address",
        "login_window_seconds",
        "login_hash_workers",
    ):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name}: must be at least 1")
    if settings.login_max_delay_seconds < settings.login_delay_seconds:
        raise SettingsError("setting login_max_delay_seconds: must be at least login_delay_seconds")


def _check_oidc(settings: Settings) -> None:
    for name in ("session_lifetime_seconds", "session_idle_seconds"):
        if getattr(settings, name) < 60:
            raise SettingsError(f"setting {name}: at least 60")
    if not settings.oidc_enabled:
        return
    from urllib.parse import urlsplit

    from auth.oidc.relying_party import CLIENT_AUTH_METHODS

    url = urlsplit(settings.oidc_issuer)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if url.scheme not in ("https", "http") or not url.hostname or (url.scheme == "http" and not loopback):
        raise SettingsError("setting oidc_issuer: an https:// URL (http only on loopback, for tests)")
    if not settings.oidc_client_id:
        raise SettingsError("setting oidc_client_id: the hub's client id at the provider")
    if settings.oidc_client_auth not in CLIENT_AUTH_METHODS:
        raise SettingsError(f"setting oidc_client_auth: one of {', '.join(CLIENT_AUTH_METHODS)}")
    if settings.oidc_client_auth == "private_key_jwt":
        if not settings.oidc_private_key_file:
            raise SettingsError("setting oidc_private_key_file: private_key_jwt needs the hub's PEM private key")
    elif not settings.oidc_client_secret:
        raise SettingsError(f"setting oidc_client_secret: {settings.oidc_client_auth} needs the client secret")
    if "openid" not in settings.oidc_scopes:
        raise SettingsError("setting oidc_scopes: must include openid")
    if not settings.is_sandbox and not settings.session_secret:
        raise SettingsError(
            "setting session_secret (CARDHUB_SESSION_SECRET): citizens log in, so their sessions need a key; "
            "`cardhub keys generate` makes one"
        )


def _check_agency(agency: str, table: Mapping[str, Any]) -> None:
    unknown = set(table) - set(AGENCY_KEYS)
    if unknown:
        raise SettingsError(f"agencies.{agency}: unknown keys {sorted(unknown)}; known: {', '.join(AGENCY_KEYS)}")
    if "auth" in table and table["auth"] not in AUTH_KINDS:
        raise SettingsError(f"agencies.{agency}.auth: must be one of {', '.join(AUTH_KINDS)}, not {table['auth']!r}")
    for key, minimum in (("timeout_seconds", 0.001), ("max_connections", 1)):
        if key in table:
            try:
                value = float(table[key])
            except (TypeError, ValueError):
                raise SettingsError(f"agencies.{agency}.{key}: not a number: {table[key]!r}") from None
            if value < minimum:
                raise SettingsError(f"agencies.{agency}.{key}: must be positive")


def _convert(name: str, raw: Any, annotation: Any) -> Any:
    kind = str(annotation)
    if name == "agencies":
        if not isinstance(raw, Mapping):
            raise TypeError("must be a table of agency tables")
        return {str(k): dict(v) for k, v in raw.items()}
    if name == "section_owners":
        return _section_owners(raw)
    if "bool" in kind:
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if lowered in ("", "auto") and "None" in kind:
            return None
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind == "int":
        if isinstance(raw, bool):
            raise TypeError("expected a whole number")
        value = int(raw)
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if kind == "float":
        value_f = float(raw)
        zero_allowed = ("connector_poll_seconds", "refresh_grace_seconds", "prune_interval_seconds")
        if value_f < 0 or (value_f == 0 and name not in zero_allowed):
            raise ValueError("must be positive")
        return value_f
    if kind == "tuple[str, ...]":
        items = raw.replace(",", " ").split() if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise TypeError("expected a list of strings")
        return tuple(items)
    return str(raw)
