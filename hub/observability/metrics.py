"""``/metrics`` (Prometheus text format) and what makes it one truthful set with several workers.

With ``cardhub serve --workers N`` each worker counts into files of its own under
``PROMETHEUS_MULTIPROC_DIR``, set (and emptied) by ``serve`` before any worker starts; whichever
worker answers ``/metrics`` adds them all up (``MultiProcessCollector``), and a worker leaving marks
its live gauges dead. One process (``--workers 1``, the demo, the tests) uses the ordinary registry.

``/metrics`` answers loopback callers and callers presenting the operator token, like
``/readyz/details`` (hub/readiness.py); others get 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_asgi_app, multiprocess
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise import connections

from hub.readiness import is_operator
from telemetry import metrics

ENV = "PROMETHEUS_MULTIPROC_DIR"
POOL_SAMPLE_SECONDS = 5.0

log = logging.getLogger("cardhub.metrics")


def registry() -> CollectorRegistry:
    """The registry to expose: every worker's files when running several, else this process's own."""
    if not os.environ.get(ENV):
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


class MetricsEndpoint:
    """ASGI app for ``/metrics``: the operator check, then prometheus-client's own exposition."""

    def __init__(self) -> None:
        self._exposition: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_operator(Request(scope, receive)):
            response = JSONResponse({"error": "operator token required"}, status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer realm="cardhub-operator"'})  # fmt: skip
            await response(scope, receive, send)
            return
        if self._exposition is None:  # built on first use: by then the worker knows its registry
            self._exposition = make_asgi_app(registry())
        await self._exposition(scope, receive, send)


@contextlib.contextmanager
def multiprocess_dir(workers: int) -> Iterator[str | None]:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for the workers to come (several only), emptied of a past run's files.

    An operator's own directory is kept (its files are removed); one made here is removed afterwards.
    """
    given = os.environ.get(ENV)
    if workers <= 1 and not given:
        yield None
        return
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="cardhub-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # a past run's counts would be added to this one's
        stale.unlink()
    os.environ[ENV] = str(path)
    try:
        yield str(path)
    finally:
        if not given:
            os.environ.pop(ENV, None)
            shutil.rmtree(path, ignore_errors=True)


def sample_pool() -> None:
    """The database pool's connections (asyncpg; SQLite has no pool and reports nothing)."""
    with contextlib.suppress(Exception):  # no database configured yet, or closed: nothing to report
        pool: Any = getattr(connections.get("default"), "_pool", None)
        if pool is not None:
            metrics.db_pool(pool.get_size(), pool.get_idle_size(), pool.get_max_size())


async def _sample_forever() -> None:
    while True:
        sample_pool()
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def observed(lifespan: Lifespan) -> Lifespan:
    """The app's lifespan, plus the pool sampler while it runs and, at exit, this worker marked dead."""

    @asynccontextmanager
    async def wrapped(app: Any) -> AsyncIterator[None]:
        try:
            async with lifespan(app):
                sampler = asyncio.create_task(_sample_forever())
                try:
                    yield
                finally:
                    sampler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sampler
        finally:
            if os.environ.get(ENV):
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    return wrapped
