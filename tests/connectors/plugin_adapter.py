"""A hand-written adapter, as an agency would ship one in its own package and register by entry point
(group ``cardhub.connectors``). It reads the library's patron record only: no loans, no holds."""

from __future__ import annotations

from urllib.parse import quote

from connectors.base import Connector
from connectors.domain import Library
from connectors.formats import money_from_fen, require, require_str


class PatronOnly(Connector):
    async def fetch(self, card_number: str) -> Library | None:
        response = await self.client.get(f"/opac/api/patrons/by-citizen-card/{quote(card_number, safe='')}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise self.unexpected(response, "patron")
        body = response.body
        return self.mapped(
            "patron",
            lambda: Library(
                card_number=require_str(body, "cardNumber"),
                loans=(),
                reservations=(),
                fines=money_from_fen(require(body, "fineBalance")),
                meta=self.meta(),
            ),
        )


class NotAConnector:
    pass
