"""Assembling the virtual card: its issuer from the settings and keys, its page and published keys."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import Route

from auth.card import published
from auth.card.issuer import CardIssuer
from auth.web import card as card_page
from hub.settings import Settings
from keys.keyring import CARD, Keyring
from schema.card_credential import CardCredentials
from schema.context import Services
from schema.loaders import SectionLoaders


def credentials(settings: Settings, keyring: Keyring) -> CardCredentials:
    return CardCredentials(CardIssuer(keyring[CARD], settings.issuer_url, settings.card_credential_ttl_seconds))


def routes(card: CardCredentials | None, services: Callable[[], Services]) -> list[Route]:
    """``/me/card`` (and its refresh) and the published key set. ``services``: the ones requests use now."""
    if card is None:
        return []

    def loaders() -> SectionLoaders:
        now = services()
        return SectionLoaders(now.sections)

    return [*card_page.routes(card.for_pages(loaders)), published.route(card.issuer)]
