"""Running the hub on uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from hub import settings as settings_module
from hub.app import create_app
from hub.observability import logs, tracing
from hub.observability.metrics import multiprocess_dir
from hub.settings import Settings


def configure_logging(level: str, log_format: str = "text") -> None:
    """Every logger of the process (the hub's, uvicorn's, aiohttp's) through structlog: hub/observability/logs.py."""
    logs.configure(level, log_format)


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, logs.format_for(settings.log_format, settings.is_sandbox))


def app_from_environment() -> Starlette:
    """uvicorn factory for worker processes: each reads the same settings from the environment, and
    starts its own tracing (the SDK's export thread is per process)."""
    settings = settings_module.load()
    _configure_logging(settings)
    tracing.configure()  # before the schema is built: it adds its spans only when tracing is on
    app = create_app(settings)
    tracing.instrument_app(app)
    return app


def serve(settings: Settings, workers: int = 1, config_file: str | None = None) -> None:
    _configure_logging(settings)
    if config_file:
        os.environ["CARDHUB_CONFIG"] = config_file
    # Several workers count into files of a directory set before they start (hub/observability/metrics.py).
    with multiprocess_dir(workers):
        uvicorn.run(
            "hub.server:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            server_header=False,
        )


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signal handling to its host (the demo, the tests).

    Plain uvicorn re-raises a captured SIGTERM after shutdown, which would kill the demo before it
    could stop the sandbox agencies it started.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_in_background(server: uvicorn.Server) -> asyncio.Task[None]:
    """Start ``server`` in this event loop; return once it listens (or raise why it could not)."""
    task = asyncio.create_task(server.serve())
    # uvicorn exposes its startup only as a flag, not as an event to await.
    while not server.started and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if not server.started:
        task.result()  # re-raises the startup failure, if any
        raise RuntimeError("the server exited during startup (is the port in use?)")
    return task
