"""Issuing a virtual card credential for the citizen: the card's status, the agency facts the
purpose needs (read like any section: through the request's loaders and the cache), then the
signature (``auth/card/issuer.py``).

What each purpose reads, and the scopes the asking token must hold for it: a credential is not
encrypted, so the app that receives it could read every claim in it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from auth.card.errors import FactsUnavailable
from auth.card.issuer import CardIssuer, IssuedCredential, ShowCard
from auth.card.status import usable_card
from auth.registry import find_citizen
from cardverify.format import Purpose
from connectors import domain
from connectors.errors import AgencyError
from schema.loaders import SectionLoaders

SCOPES: dict[Purpose, tuple[str, ...]] = {
    Purpose.TRANSIT: ("card", "transit"),
    Purpose.LIBRARY: ("card", "library"),
    Purpose.CLINIC: ("card", "health"),
    Purpose.IDENTITY: ("card",),
}
_SECTION = {Purpose.TRANSIT: "transit", Purpose.LIBRARY: "library", Purpose.CLINIC: "health"}


class CardCredentials:
    def __init__(self, issuer: CardIssuer) -> None:
        self.issuer = issuer

    async def issue(self, citizen: str, purpose: Purpose, sections: SectionLoaders) -> IssuedCredential:
        """Raises CardCredentialError: the card is not active, the agency unreadable, the code too large."""
        await usable_card(citizen)
        section = None
        if purpose in _SECTION:
            try:
                section = await sections.load(_SECTION[purpose], citizen)
            except AgencyError as exc:
                raise FactsUnavailable(exc.code, exc.agency, exc.message) from exc
        return self.issuer.issue(purpose, citizen, await self._facts(purpose, citizen, section))

    def for_pages(self, loaders: Callable[[], SectionLoaders]) -> ShowCard:
        """The same for the citizen pages, which have no GraphQL request: fresh loaders per call."""

        async def show(citizen: str, purpose: Purpose) -> IssuedCredential:
            return await self.issue(citizen, purpose, loaders())

        return show

    async def _facts(self, purpose: Purpose, citizen: str, section: domain.Section | None) -> dict[str, object]:
        if purpose is Purpose.TRANSIT:
            transit = section if isinstance(section, domain.Transit) else None
            concession = transit.concession.value if transit else domain.Concession.NONE.value
            return {"card_valid": transit is not None, "concession": concession}
        if purpose is Purpose.LIBRARY:
            library = section if isinstance(section, domain.Library) else None
            blocked = library is None or library.fines > Decimal(0) or any(loan.overdue for loan in library.loans)
            return {"patron_valid": library is not None, "borrowing_blocked": blocked}
        if purpose is Purpose.CLINIC:
            health = section if isinstance(section, domain.Health) else None
            return {
                "health_card_number": health.health_card_number if health else None,
                "registered_clinic": health.registered_clinic if health else None,
            }
        record = await find_citizen(citizen)
        return {"name": record.name if record else "", "card_number": citizen}
