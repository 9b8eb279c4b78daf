from __future__ import annotations

import asyncio

import strawberry

from auth.audit import Decision, Outcome
from auth.consent import ConsentStatus
from auth.registry import Citizen as CitizenRecord
from auth.registry import find_citizen
from schema import connector_admin
from schema.context import Info
from schema.errors import CitizenNotFound, ConsentRequired
from schema.permissions import IsCitizen, IsClient, ManagesConnectors, require_principal
from schema.types.citizen import Citizen
from schema.types.connector import Connector


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsCitizen], description="The citizen behind the bearer token.")
    async def me(self, info: Info) -> Citizen | None:
        require_principal(info)
        record = await info.context.own_record()
        if record is None:
            raise CitizenNotFound("the token's citizen is not in the card registry")
        return Citizen.from_record(record)

    @strawberry.field(
        permission_classes=[ManagesConnectors],
        description="Your agency's connectors: the version in force, whether enabled, and the health of its "
        "recent calls from this hub instance. Needs an agency client credentials token with connectors:manage.",
    )
    async def connectors(self, info: Info) -> list[Connector]:
        return await connector_admin.connectors(info)

    @strawberry.field(
        permission_classes=[IsClient],
        description="A citizen by card number, for app and agency clients acting for themselves with a token "
        "holding a data scope (others: FORBIDDEN). Each part needs the citizen's consent. A card number no "
        "citizen holds answers exactly as a citizen who has not consented to this client. Citizen tokens are "
        "refused: they read their own profile through `me`.",
    )
    async def citizen(self, info: Info, card_number: strawberry.ID) -> Citizen | None:
        wanted = str(card_number)
        principal = require_principal(info)
        # No existence oracle: both lookups run for a known and an unknown card alike, and an unknown card
        # stands as a citizen without consent (every part refused with CONSENT_REQUIRED, no agency asked).
        record, standing = await asyncio.gather(
            find_citizen(wanted, info.context.fence), info.context.consent_for(wanted, principal.client_id)
        )
        consented = record is not None and standing.status is ConsentStatus.ACTIVE
        info.context.decisions.append(  # every probe is audited, whatever it selects
            Decision(wanted, "profile", Outcome.ALLOWED)
            if consented
            else Decision(wanted, "profile", Outcome.DENIED, ConsentRequired.code)
        )
        return Citizen.from_record(record if record is not None else CitizenRecord(card_number=wanted, name=""))
