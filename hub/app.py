"""The Starlette app factory: settings in, a running hub out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

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
        async with RegisterTortoise(app, db_url=settings.database_url, modules=database.MODELS, generate_schemas=True):
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

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.connectors = connectors
    app.state.settings = settings
    return app
