"""Citizens' rights, assembled: consent receipts, data exports and security events to data users.

One object the app builds from its settings and keyring (``Rights``): what the schema needs
(``receipts``, ``export_policy``), the routes (the published receipt and event keys, RFC 8936 poll,
the citizen pages' share), and the two workers every instance runs (``hub/export.py``,
``hub/event_delivery.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import event_poll, events, receipts
from auth.export import ExportPolicy
from auth.web import rights as rights_pages
from connectors.base import Connector
from connectors.push import PushSender
from hub.event_delivery import EventDelivery
from hub.export import ExportBuilder, ExportWorker
from hub.settings import Settings
from keys.keyring import EVENTS, RECEIPTS, Keyring


def key_set_route(path: str, document: Callable[[], Mapping[str, Any]]) -> Route:
    """A published JWKS (RFC 7517): public keys only, cacheable for a few minutes."""

    async def publish(request: Request) -> Response:
        return JSONResponse(dict(document()), headers={"Cache-Control": "public, max-age=300"})

    return Route(path, publish, methods=["GET"])


class Rights:
    def __init__(self, settings: Settings, keyring: Keyring, connectors: Mapping[str, Connector]) -> None:
        issuer = settings.issuer_url
        self.receipts = receipts.ReceiptIssuer(keyring[RECEIPTS], issuer)
        self.event_signer = events.EventSigner(keyring[EVENTS], issuer)
        self.export_policy = ExportPolicy(settings.export_per_day, settings.export_link_seconds)
        self.delivery = EventDelivery(
            self.event_signer,
            PushSender(settings.outbound, settings.event_timeout_seconds),
            interval_seconds=settings.event_interval_seconds,
            max_attempts=settings.event_max_attempts,
            backoff_seconds=settings.event_backoff_seconds,
        )
        builder = ExportBuilder(connectors, self.receipts, settings.export_font_file)
        self.exports = ExportWorker(builder, keep_seconds=settings.export_keep_seconds)

    def routes(self) -> list[Route]:
        return [
            key_set_route(receipts.JWKS_PATH, self.receipts.jwks),
            key_set_route(events.JWKS_PATH, self.event_signer.jwks),
            *event_poll.routes(self.event_signer),
            *rights_pages.routes(self.receipts, self.export_policy),
        ]

    async def start(self) -> None:
        await self.delivery.start()
        await self.exports.start()

    async def close(self) -> None:
        await self.exports.close()
        await self.delivery.close()
