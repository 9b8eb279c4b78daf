"""The Starlette app factory: settings in, a running hub out."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from auth.login import CitizenAuthenticator
from auth.oauth.endpoints import OAuthEndpoints
from auth.oauth.server import Lifetimes
from auth.web import pages
from auth.web import session as web_session
from connectors.base import Connector
from connectors.domain import AGENCY_IDS
from connectors.registry import build_connector
from hub import database
from hub.graphql_app import HubGraphQL
from hub.readiness import healthz, readyz
from hub.settings import Settings
from schema.context import Services
from schema.schema import build_schema

log = logging.getLogger("cardhub")


def build_connectors(settings: Settings) -> dict[str, Connector]:
    return {
        agency: build_connector(
            agency,
            settings.agency_config(agency),
            timeout_seconds=settings.agency_timeout_seconds,
            max_connections=settings.agency_max_connections,
        )
        for agency in AGENCY_IDS
    }


def citizen_login(settings: Settings) -> tuple[CitizenAuthenticator | None, str]:
    """Who may log in to the citizen pages, and the session cookie's signing secret.

    Sandbox: the personas; without a configured secret, a random one per process. Production: no
    authenticator yet (the city's identity provider plugs in here: docs/consent.md, "Replacing the
    login"), and none at all without a session secret.
    """
    if settings.is_sandbox:
        from hub.sandbox_login import SandboxLogin

        return SandboxLogin(), settings.session_secret or secrets.token_urlsafe(32)
    if not settings.session_secret:
        log.error("session_secret is not set: citizen login is off (set CARDHUB_SESSION_SECRET)")
    return None, settings.session_secret or secrets.token_urlsafe(32)


def create_app(settings: Settings, connectors: Mapping[str, Connector] | None = None) -> Starlette:
    connectors = dict(connectors) if connectors is not None else build_connectors(settings)
    services = Services(
        connectors=connectors,
        default_page_size=settings.default_page_size,
        max_page_size=settings.max_page_size,
    )
    schema = build_schema(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases)
    graphql = HubGraphQL(schema, services, graphiql=settings.graphiql_enabled)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        database.prepare(settings.database_url)
        async with RegisterTortoise(
            app, db_url=database.with_defaults(settings.database_url), modules=database.MODELS, generate_schemas=True
        ):
            if settings.is_sandbox:
                from hub.sandbox_seed import seed_registry

                added = await seed_registry()
                if added:
                    log.info("seeded the card registry with %d sandbox personas", added)
            await asyncio.gather(*(c.client.start() for c in connectors.values()))
            try:
                yield
            finally:
                await asyncio.gather(*(c.client.close() for c in connectors.values()))

    authenticator, session_secret = citizen_login(settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *pages.routes(authenticator),
            *OAuthEndpoints(
                settings.issuer_url, Lifetimes(settings.access_token_ttl_seconds, settings.refresh_token_ttl_seconds)
            ).routes(),
        ],
        middleware=[web_session.middleware(session_secret, https_only=not settings.is_sandbox)],
        exception_handlers=pages.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.connectors = connectors
    app.state.settings = settings
    return app
