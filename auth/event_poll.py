"""Poll delivery of Security Event Tokens (RFC 8936): ``POST /events/poll``.

The client authenticates with its id and secret (HTTP Basic, as at the token endpoint) and gets its
own undelivered events, oldest first, as ``{"sets": {jti: SET}, "moreAvailable": bool}`` (section
2.2). It acknowledges what it has kept with ``"ack": [jti, ...]`` in the next poll (section 2.4);
an acknowledged event is never delivered again, by poll or push. ``"setErrs"`` (section 2.5) are
logged and acknowledged too: a SET the client cannot use will not become usable by sending it again.
``returnImmediately`` false waits up to ``LONG_POLL_SECONDS`` for an event.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import clients, events

log = logging.getLogger("cardhub.events")

PATH = "/events/poll"
LONG_POLL_SECONDS = 10.0
MAX_BODY = 64 * 1024


def routes(signer: events.EventSigner) -> list[Route]:
    async def poll(request: Request) -> Response:
        client_id = await _client(request)
        if client_id is None:
            return JSONResponse({"err": "authentication_failed"}, 401, {"WWW-Authenticate": 'Basic realm="events"'})
        body = await request.body()
        try:
            asked: Any = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError, RecursionError):
            asked = None
        if len(body) > MAX_BODY or not isinstance(asked, dict):
            return JSONResponse({"err": "invalid_request", "description": "a JSON object"}, 400)
        errs = asked.get("setErrs")
        acks = asked.get("ack") or []
        if not isinstance(acks, list) or not isinstance(errs or {}, dict):
            return JSONResponse({"err": "invalid_request", "description": "ack is a list of jti"}, 400)
        for jti, err in (errs or {}).items():
            log.warning("client %s could not use event %s: %.200r", client_id, jti, err)
        await events.acknowledge(client_id, [*acks, *(errs or {})], "poll")
        wanted = asked.get("maxEvents", events.MAX_POLL)
        limit = min(wanted, events.MAX_POLL) if isinstance(wanted, int) and wanted >= 0 else events.MAX_POLL
        found = await _wait(client_id, limit + 1, asked.get("returnImmediately", True) is not False and limit > 0)
        sets = {e.jti: signer.sign(e) for e in found[:limit]}
        return JSONResponse({"sets": sets, "moreAvailable": len(found) > limit})

    return [Route(PATH, poll, methods=["POST"])]


async def _wait(client_id: str, limit: int, immediately: bool) -> list[events.SecurityEvent]:
    waited = 0.0
    while True:
        found = await events.pending(client_id, limit) if limit > 1 else []
        if found or immediately or waited >= LONG_POLL_SECONDS:
            return found
        await asyncio.sleep(0.5)
        waited += 0.5


async def _client(request: Request) -> str | None:
    """The client id of valid HTTP Basic credentials (RFC 6749 section 2.3.1 encoding), else None."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    raw_id, sep, raw_secret = pair.partition(":")
    if not sep:
        return None
    client = await clients.find(unquote_plus(raw_id))
    if client is None or client.state is not clients.ClientState.ACTIVE:
        return None
    return client.client_id if client.check_secret(unquote_plus(raw_secret)) else None
