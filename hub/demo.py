"""``cardhub demo``: the five sandbox agencies plus the hub, a ready token, stopped cleanly on
Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import FrameType

import uvicorn

from auth import consent, scopes, tokens
from auth.clients import ClientType
from hub import database, sandbox_access
from hub.app import create_app
from hub.sandbox_seed import seed_registry
from hub.server import EmbeddedServer, configure_logging, start_in_background
from hub.settings import Settings
from sandbox import runner
from sandbox.personas import PERSONAS

DEMO_PERSONA = PERSONAS[0]
DEMO_AGENCY_CLIENT = "demo-agency-client"
DEMO_AGENCY_PURPOSE = "Demo agency: reads the profiles of citizens who consented, to show citizen(cardNumber)"


def run(
    settings: Settings, port: int, latency: Mapping[str, int], down: Iterable[str], base_port: int | None = None
) -> None:
    configure_logging(settings.log_level)
    # SIGTERM before the hub is up must still stop the agencies: make it unwind like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    sandbox = runner.start(latency=latency, down=down, base_port=base_port)
    try:
        settings = replace(settings, port=port).with_agencies({a: {"url": u} for a, u in sandbox.urls.items()})
        asyncio.run(_serve(settings))
    finally:
        sandbox.stop()
        print("cardhub demo stopped: hub and sandbox agencies are down.", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


async def _serve(settings: Settings) -> None:
    async with database.connected(settings.database_url):
        await seed_registry()
        ttl = settings.sandbox_token_ttl_seconds
        citizen_token = await sandbox_access.citizen_token(DEMO_PERSONA.card_number, scopes.READ_SCOPES, ttl)
        await sandbox_access.ensure_client(DEMO_AGENCY_CLIENT, ClientType.AGENCY, DEMO_AGENCY_PURPOSE)
        await consent.grant(DEMO_PERSONA.card_number, DEMO_AGENCY_CLIENT, scopes.READ_SCOPES, DEMO_AGENCY_PURPOSE)
        agency_token = await tokens.issue(DEMO_AGENCY_CLIENT, scopes.READ_SCOPES, None, ttl)
    server = EmbeddedServer(
        uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_config=None, lifespan="on")
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    task = await start_in_background(server)
    print(_banner(settings, citizen_token, agency_token), flush=True)
    watchdog = asyncio.create_task(_stop_when_orphaned(server))
    await task
    watchdog.cancel()


async def _stop_when_orphaned(server: EmbeddedServer) -> None:
    """``make demo`` stopped with SIGTERM ends make, not the demo: stop when our parent goes away."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 (Linux tells a child nothing when its parent dies)
        await asyncio.sleep(1)
    server.should_exit = True


def _banner(settings: Settings, citizen_token: str, agency_token: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    query = '{"query":"{ me { cardNumber name transit { balance concession } library { fines } } }"}'
    return f"""
Citizen Card Hub demo is running.

  GraphiQL:   {base}/graphql
  Readiness:  {base}/readyz

  Token for {DEMO_PERSONA.name} ({DEMO_PERSONA.card_number}), all scopes, valid {settings.sandbox_token_ttl_seconds}s:
    {citizen_token}
  Token for an agency client; {DEMO_PERSONA.card_number} consented to it, so it reads
  citizen(cardNumber: "{DEMO_PERSONA.card_number}") (others: cardhub consent grant):
    {agency_token}

  Try:
    curl -s {base}/graphql -H 'Content-Type: application/json' \\
      -H 'Authorization: Bearer {citizen_token}' \\
      -d '{query}'

  In GraphiQL, add the header {{"Authorization": "Bearer {citizen_token}"}}.
  Other personas: cardhub sandbox personas; another token: cardhub token --persona CARD_NUMBER.
  Ctrl-C stops everything.
"""
