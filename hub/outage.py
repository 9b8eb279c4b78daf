"""The hub's own store going away: a clear 503 with a code, a log line, no traceback to the client.

The database (PostgreSQL or SQLite) holds tokens, consents and the audit log; without it no request
can be authorised or recorded, so the hub refuses rather than guesses. When the database is back,
the next request simply works: the driver reconnects by itself.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise.exceptions import BaseORMException

log = logging.getLogger("cardhub")

STORE_ERRORS: tuple[type[Exception], ...] = (BaseORMException, OSError)
RETRY_AFTER_SECONDS = 5


def store_unavailable(request_id: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "the hub's database is unavailable; try again shortly",
                    "extensions": {"code": "SERVICE_UNAVAILABLE"},
                }
            ]
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), **({"X-Request-Id": request_id} if request_id else {})},
    )


async def store_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("the hub's database is unavailable (%s): %s %s", type(exc).__name__, request.method, request.url.path)
    return store_unavailable()
