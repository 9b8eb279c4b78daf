"""The citizen's card profile: identity and card from the hub's registry, five agency sections."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import PermissionExtension

from auth import consent
from auth.audit import Decision, Outcome, access_log
from auth.registry import Card as CardRecord
from auth.registry import CardStatus
from auth.registry import Citizen as CitizenRecord
from connectors import domain
from connectors.errors import AgencyError
from schema.context import Info
from schema.errors import AgencyFailure, BadUserInput, Forbidden
from schema.loaders import requested_fields
from schema.permissions import IsTheCitizen, RequireScope
from schema.rights import export_of
from schema.types.access_log import AccessLogEntry, AccessOutcome, RefusedProbes
from schema.types.consent import Consent
from schema.types.data_export import DataExport
from schema.types.health import HealthSection
from schema.types.housing_fund import HousingFundSection
from schema.types.library import LibrarySection
from schema.types.social_security import SocialSecuritySection
from schema.types.transit import TransitSection

strawberry.enum(CardStatus)
S = TypeVar("S", bound=domain.Section)
ACCESS_LOG_MAX = 200


def scoped(scope: str) -> list[FieldExtension]:
    return [PermissionExtension(permissions=[RequireScope(scope)])]


def citizen_only(part: str) -> list[FieldExtension]:
    return [PermissionExtension(permissions=[IsTheCitizen(part)])]


def section(scope: str, what: str) -> Any:
    """A profile section field: guarded by ``scope``, described so clients see which scope it needs."""
    return strawberry.field(
        extensions=scoped(scope),
        description=f"{what} Needs scope `{scope}`; without it: null and CONSENT_REQUIRED. Null with no "
        "error: the citizen has no account there. Null with AGENCY_* error: the agency failed.",
    )


@strawberry.type(description="The citizen card itself, from the hub's card registry.")
class Card:
    status: CardStatus
    issued_on: date
    virtual_card: bool = strawberry.field(description="Whether a virtual card is active in the mobile app.")


async def load_section(info: Info, agency: str, card_number: str, kind: type[S]) -> S | None:
    principal = info.context.principal
    if principal is not None and principal.citizen not in (None, card_number):
        # Query resolvers already prevent this; refuse here too so no path can cross citizens.
        info.context.decisions.append(Decision(card_number, agency, Outcome.DENIED, Forbidden.code))
        raise Forbidden("a citizen's token reads only that citizen")
    try:
        # Only the resources the selected fields are built from are fetched (schema/loaders.py).
        section = await info.context.sections.load(agency, card_number, requested_fields(info))
    except AgencyError as exc:
        raise AgencyFailure(exc) from exc
    if section is not None and not isinstance(section, kind):
        raise TypeError(f"{agency} connector returned {type(section).__name__}, expected {kind.__name__}")
    return section


@strawberry.type(description="A citizen's card profile. Each part needs its own scope.")
class Citizen:
    card_number: strawberry.ID
    _record: strawberry.Private[CitizenRecord]

    @strawberry.field(extensions=scoped("card"), description="Needs scope `card`.")
    def name(self) -> str | None:
        return self._record.name

    @strawberry.field(extensions=scoped("card"), description="Needs scope `card`.")
    async def card(self) -> Card | None:
        record = await CardRecord.get_or_none(citizen_id=self._record.card_number)
        if record is None:
            return None
        return Card(status=record.status, issued_on=record.issued_on, virtual_card=record.virtual_card)

    @section("social_security", "Social insurance, from the Social Security Bureau.")
    async def social_security(self, info: Info) -> SocialSecuritySection | None:
        data = await load_section(info, "social_security", self.card_number, domain.SocialSecurity)
        return SocialSecuritySection.from_domain(data) if data else None

    @section("transit", "The e-tong transit card, from the e-tong card company.")
    async def transit(self, info: Info) -> TransitSection | None:
        data = await load_section(info, "transit", self.card_number, domain.Transit)
        return TransitSection.from_domain(data) if data else None

    @section("health", "The hospital health card, from the Health Commission (sensitive).")
    async def health(self, info: Info) -> HealthSection | None:
        data = await load_section(info, "health", self.card_number, domain.Health)
        return HealthSection.from_domain(data) if data else None

    @section("housing_fund", "The housing provident fund account, from the fund centre (sensitive).")
    async def housing_fund(self, info: Info) -> HousingFundSection | None:
        data = await load_section(info, "housing_fund", self.card_number, domain.HousingFund)
        return HousingFundSection.from_domain(data) if data else None

    @section("library", "The public library card, from the public library.")
    async def library(self, info: Info) -> LibrarySection | None:
        data = await load_section(info, "library", self.card_number, domain.Library)
        return LibrarySection.from_domain(data) if data else None

    @strawberry.field(
        extensions=citizen_only("consents"),
        description="The citizen's consents to apps and agencies, most recently changed first. Only for the "
        "citizen's own token, through `me`; anyone else gets null and FORBIDDEN.",
    )
    async def consents(self) -> list[Consent] | None:
        return [Consent.from_record(c) for c in await consent.for_citizen(str(self.card_number))]

    @strawberry.field(
        extensions=citizen_only("access_log"),
        description="Who asked for which parts of the profile and what the hub decided, newest first "
        f"(`first`: 0 to {ACCESS_LOG_MAX}; `before`: an entry's id, for the next page). Lists reads and the "
        "refusals of clients the citizen gave a consent to; refusals of any other client are counted in "
        "`refusedProbes`, and listed with `client`. `outcome` keeps one kind. Only for the citizen's own "
        "token, through `me`; anyone else gets null and FORBIDDEN.",
    )
    async def access_log(
        self,
        first: int | None = 50,
        before: strawberry.ID | None = None,
        outcome: AccessOutcome | None = None,
        client: str | None = None,
    ) -> list[AccessLogEntry] | None:
        limit = 50 if first is None else first
        if not 0 <= limit <= ACCESS_LOG_MAX:
            raise BadUserInput(f"first must be between 0 and {ACCESS_LOG_MAX}", argument="first", max=ACCESS_LOG_MAX)
        if before is not None and not str(before).isdigit():
            raise BadUserInput("before takes an entry's id", argument="before")
        if limit == 0:
            return []
        entries = await access_log.page(
            str(self.card_number),
            limit,
            before=int(before) if before is not None else None,
            outcome=outcome.value if outcome is not None else None,
            client_id=client,
        )
        return [AccessLogEntry.from_record(e) for e in entries]

    @strawberry.field(
        extensions=citizen_only("access_log"),
        description="Refused requests by clients the citizen never gave a consent to, one group per client, "
        "latest first. Only for the citizen's own token, through `me`.",
    )
    async def refused_probes(self) -> list[RefusedProbes] | None:
        return [RefusedProbes.from_group(g) for g in await access_log.refused_probes(str(self.card_number))]

    @strawberry.field(
        extensions=citizen_only("export"),
        description="Your latest data export and its progress; when DONE, a fresh single-use download link. "
        "Start one with `requestDataExport`. Only for the citizen's own token, through `me`.",
    )
    async def export(self, info: Info) -> DataExport | None:
        return await export_of(info, str(self.card_number))

    @classmethod
    def from_record(cls, record: CitizenRecord) -> Citizen:
        return cls(card_number=strawberry.ID(record.card_number), _record=record)
