"""The Starlette app factory: settings in, a running hub out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from auth.audit.checkpoints import CheckpointSigner, check_key
from auth.audit.sequencer import Sequencer
from auth.login import CitizenAuthenticator
from auth.oauth.endpoints import OAuthEndpoints
from auth.oauth.server import Lifetimes
from auth.oidc.relying_party import ProviderConfig, RelyingParty
from auth.throttle import LoginLimits, LoginThrottle
from auth.web import checkpoints as audit_pages
from auth.web import pages
from auth.web import session as web_session
from cache.backend import MemoryBackend
from cache.redis_backend import RedisBackend
from cache.sections import SectionCache
from cache.source import SectionSource
from connectors import lifecycle
from connectors.domain import AGENCY_IDS
from connectors.live import LiveConnectors
from connectors.outbound import OutboundRefused
from connectors.policy import ConnectorPolicy, sealer_for
from connectors.registry import ConnectorConfigError, agency_auth, builtin_manifest, with_overrides
from hub import database, graphiql, virtual_card
from hub.direct import HubApp, direct_routes
from hub.graphql_app import HubGraphQL, edge_for, limits_for
from hub.housekeeping import Housekeeper
from hub.observability.metrics import MetricsEndpoint, observed
from hub.observability.requests import RequestContext
from hub.outage import STORE_ERRORS, store_error_handler
from hub.readiness import healthz, readyz, readyz_details
from hub.rights import Rights
from hub.settings import Settings
from keys.keyring import CACHE, CHECKPOINT, SECRETS, SESSION, Keyring
from schema.context import Services
from schema.schema import build_schema
from telemetry import tracing

log = logging.getLogger("cardhub")


def builtin_overrides(settings: Settings) -> Callable[[str], Mapping[str, Any]]:
    """The operator's settings for a built-in manifest: [agencies.ID] and the agency_* defaults."""

    def overrides(agency: str) -> Mapping[str, Any]:
        cfg = dict(settings.agency_config(agency)) if agency in AGENCY_IDS else {}
        cfg.setdefault("timeout_seconds", settings.agency_timeout_seconds)
        cfg.setdefault("max_connections", settings.agency_max_connections)
        return cfg

    return overrides


def check_builtins(settings: Settings) -> None:
    """Refuse settings that would make a built-in manifest invalid (a bad URL, a missing credential), or
    point one where the outbound policy forbids (the operator's URLs obey it too)."""
    overrides = builtin_overrides(settings)
    outbound = settings.outbound
    for agency in builtin_agencies(settings):
        manifest = with_overrides(builtin_manifest(agency), overrides(agency))
        agency_auth(manifest)
        try:
            outbound.check_url(manifest.base_url)
        except OutboundRefused as exc:
            raise ConnectorConfigError(f"agencies.{agency}.url: {exc}") from None


def connector_policy(settings: Settings, keyring: Keyring) -> ConnectorPolicy:
    """The operator's rules for agency connectors: outbound addresses, section owners, sealed secrets."""
    return ConnectorPolicy(
        outbound=settings.outbound,
        url_prefixes=settings.agency_url_prefixes,
        section_owners=settings.all_section_owners,
        sealer=sealer_for(keyring[SECRETS]),
    )


def builtin_agencies(settings: Settings) -> list[str]:
    """Built-in manifests to seed: all five in sandbox mode; in production those the operator configured."""
    if settings.is_sandbox:
        return list(AGENCY_IDS)
    return [a for a in AGENCY_IDS if settings.agency_config(a).get("url")]


@dataclass(frozen=True, slots=True)
class CitizenLogin:
    """How citizens log in to the pages: a password form (``authenticator``), the city's identity
    provider (``upstream``), or neither (login is off); and the session cookie's keys, current first."""

    authenticator: CitizenAuthenticator | None
    upstream: RelyingParty | None
    session_keys: list[bytes]


def citizen_login(settings: Settings, keyring: Keyring) -> CitizenLogin:
    """Production: the city's OpenID Provider when ``oidc_issuer`` is set (settings refuse it without a
    session key), else no login at all. Sandbox: the personas' passwords, unless a provider is set."""
    keys = keyring[SESSION]
    session_keys = [keys.derive("session cookie", key) for key in keys.keys]
    if settings.oidc_enabled:
        return CitizenLogin(None, RelyingParty(oidc_config(settings)), session_keys)
    if settings.is_sandbox:
        from hub.sandbox_login import SandboxLogin

        return CitizenLogin(SandboxLogin(), None, session_keys)
    log.error("oidc_issuer is not set: citizen login is off (docs/operations.md, the city's identity provider)")
    return CitizenLogin(None, None, session_keys)


def oidc_config(settings: Settings) -> ProviderConfig:
    key = Path(settings.oidc_private_key_file).read_text(encoding="utf-8") if settings.oidc_private_key_file else ""
    return ProviderConfig(
        issuer=settings.oidc_issuer,
        discovery_url=settings.oidc_discovery_url,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_auth=settings.oidc_client_auth,
        private_key=key,
        redirect_uri=settings.issuer_url + "/login/callback",
        post_logout_redirect_uri=settings.issuer_url + "/login",
        scopes=settings.oidc_scopes,
        max_age_seconds=settings.oidc_max_age_seconds,
        timeout_seconds=settings.oidc_timeout_seconds,
        leeway_seconds=settings.oidc_leeway_seconds,
    )


def build_cache(settings: Settings, keyring: Keyring) -> SectionCache | None:
    if settings.cache_url == "off":
        return None
    if settings.shared_cache:
        return SectionCache(RedisBackend(settings.cache_url), settings.cache_stale_seconds, keys=keyring[CACHE])
    return SectionCache(MemoryBackend(settings.cache_max_entries), settings.cache_stale_seconds, keys=keyring[CACHE])


def login_throttle(settings: Settings, cache: SectionCache | None, keyring: Keyring) -> LoginThrottle:
    """Login attempt limits, counted in Redis (every instance together) when the cache is there."""
    limits = LoginLimits(
        per_account=settings.login_attempts_per_account,
        per_address=settings.login_attempts_per_address,
        window_seconds=settings.login_window_seconds,
        delay_seconds=settings.login_delay_seconds,
        max_delay_seconds=settings.login_max_delay_seconds,
        check_workers=settings.login_hash_workers,
    )
    shared = cache.backend if cache is not None and cache.backend.name != "memory" else None
    return LoginThrottle(limits, shared, name_key=keyring[CACHE].derive("login attempt names hmac-sha256"))


async def seed(settings: Settings, policy: ConnectorPolicy) -> None:
    """What a new database needs: the built-in connectors (and the sandbox personas), inserted after a
    check. Under the database-wide lock, so instances starting together never both insert."""
    async with database.exclusively():
        if settings.is_sandbox:
            from hub.sandbox_seed import seed_registry

            added = await seed_registry()
            if added:
                log.info("seeded the card registry with %d sandbox personas", added)
        seeded = await lifecycle.seed_builtins(builtin_agencies(settings), policy)
        if seeded:
            log.info("registered the built-in connector manifests of %s", ", ".join(seeded))


SANDBOX_BANNER = (
    "SANDBOX MODE: public persona passwords log in, GraphiQL and introspection are on, agencies may be "
    "called anywhere over plain http, keys are public. For trying the hub only; never expose it. "
    "Production is the default: unset CARDHUB_MODE."
)


def create_app(settings: Settings) -> Starlette:
    if settings.is_sandbox:
        log.warning(SANDBOX_BANNER)
    keyring = settings.keyring()  # once: a purpose without a key may get one of this process only
    policy = connector_policy(settings, keyring)
    audit_signer = CheckpointSigner.from_keys(keyring[CHECKPOINT], settings.issuer_url)
    audit_sequencer = Sequencer(audit_signer)
    cache = build_cache(settings, keyring)
    connectors = LiveConnectors(
        builtin_overrides(settings),
        policy=policy,
        poll_seconds=settings.connector_poll_seconds,
        shared_rate=cache.shared_rate() if cache is not None else None,
    )
    sections = SectionSource(connectors, cache)  # the one read path; hears every connector change
    rights = Rights(settings, keyring, connectors)  # receipts, exports, security events
    services = Services(
        connectors=connectors,
        sections=sections,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
        connector_policy=policy,
        card=virtual_card.credentials(settings, keyring),
        receipts=rights.receipts,
        exports=rights.export_policy,
    )

    schema = build_schema(edge=limits_for(settings))
    graphql = HubGraphQL(schema, services, graphiql=settings.graphiql_enabled, edge=edge_for(settings))
    housekeeper = Housekeeper(settings.prune_interval_seconds, settings.prune_after_seconds, settings.prune_batch_size)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database.prepare(settings.database_url)
        async with RegisterTortoise(app, config=database.config(settings.database_url)):
            await database.ensure_schema(sandbox=settings.is_sandbox)
            await seed(settings, policy)
            if not settings.is_sandbox:
                await check_key(audit_signer, CHECKPOINT.env)
            audit_sequencer.start()
            await sections.start()  # the connectors in force, and the purges requested elsewhere from now on
            await housekeeper.start()
            await rights.start()
            try:
                yield
            finally:
                await rights.close()
                await housekeeper.close()
                await audit_sequencer.stop()
                await sections.close()

    citizens = citizen_login(settings, keyring)
    app = HubApp(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *graphiql.routes(settings.graphiql_enabled),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/readyz/details", readyz_details),
            Route("/metrics", MetricsEndpoint()),
            *audit_pages.routes(audit_signer, settings.operator_token),
            *virtual_card.routes(services.card, lambda: graphql.services),
            *rights.routes(),
            *pages.routes(
                citizens.authenticator,
                login_throttle(settings, cache, keyring),
                upstream=citizens.upstream,
                card_claim=settings.oidc_card_claim,
                on_withdrawn=sections.consent_withdrawn,
            ),
            *OAuthEndpoints(
                settings.issuer_url,
                Lifetimes(
                    settings.access_token_ttl_seconds,
                    settings.refresh_token_ttl_seconds,
                    refresh_grace=settings.refresh_grace_seconds,
                ),
                memory=services.memory,
            ).routes(),
        ],
        middleware=[
            Middleware(RequestContext),  # outermost of the hub's own: every line of every route has the id
            web_session.middleware(
                citizens.session_keys,
                https_only=not settings.is_sandbox,
                policy=web_session.SessionPolicy(settings.session_lifetime_seconds, settings.session_idle_seconds),
            ),
        ],
        exception_handlers={**pages.EXCEPTION_HANDLERS, **dict.fromkeys(STORE_ERRORS, store_error_handler)},
        lifespan=observed(lifespan),
    )
    if not tracing.enabled():  # with tracing on, they go the whole way: their spans wrap them like any route's
        app.direct = direct_routes(app.routes)
    app.state.connectors = connectors
    app.state.audit_sequencer = audit_sequencer
    app.state.graphql = graphql
    app.state.housekeeper = housekeeper
    app.state.rights = rights
    app.state.settings = settings
    return app
