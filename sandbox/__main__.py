"""``python -m sandbox serve --agency ID --port P [faults]``: one stand-in agency in this process.

``cardhub sandbox up`` starts all five this way; see docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from sandbox.agencies import AGENCY_IDS, definition
from sandbox.app import build_app
from sandbox.faults import Fault
from sandbox.personas import personas_json
from sandbox.runner import PARENT_PID_ENV


async def _exit_with_parent(app: web.Application) -> None:
    """An agency started by ``cardhub demo`` or the tests must not outlive them, even after a kill -9."""
    # The runner names its pid: by the time we get here the parent may already be gone.
    parent = int(os.environ.get(PARENT_PID_ENV) or os.getppid())

    async def watch() -> None:
        # Polling: Linux tells a child nothing when its parent dies, short of prctl.
        while os.getppid() == parent:  # noqa: ASYNC110
            await asyncio.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    app[WATCHDOG] = asyncio.get_running_loop().create_task(watch())


WATCHDOG = web.AppKey("watchdog", asyncio.Task[None])


def _event_loop() -> asyncio.AbstractEventLoop:
    # uvloop (installed with uvicorn[standard]) keeps each stand-in agency's own overhead small, so
    # benchmarks measure the hub and the injected latency rather than the stand-in.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run one agency")
    serve.add_argument("--agency", required=True, choices=AGENCY_IDS)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--latency", type=int, default=0, metavar="MS", help="added latency per request")
    serve.add_argument("--error-status", type=int, default=None, metavar="STATUS", help="answer every call so")
    serve.add_argument("--drop", action="store_true", help="drop every connection")
    serve.add_argument("--hang", action="store_true", help="never answer")
    serve.add_argument("--garbage", action="store_true", help="answer with a non-JSON body")
    sub.add_parser("personas", help="print the persona list as JSON")
    args = parser.parse_args(argv)
    if args.command == "personas":
        sys.stdout.write(personas_json() + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.agency} %(levelname)s %(message)s")
    fault = Fault(
        latency_ms=args.latency, error_status=args.error_status, drop=args.drop, hang=args.hang, garbage=args.garbage
    )
    app = build_app(definition(args.agency), fault)
    app.on_startup.append(_exit_with_parent)
    # Cancel handlers on shutdown: a request stuck on the "hang" fault must not hold the process.
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        handle_signals=True,
        handler_cancellation=True,
        shutdown_timeout=0.5,
        loop=_event_loop(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
