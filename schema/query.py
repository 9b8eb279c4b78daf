from __future__ import annotations

import strawberry

from auth.registry import find_citizen
from schema import connector_admin
from schema.context import Info
from schema.errors import CitizenNotFound
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
        description="A citizen by card number, for app and agency clients acting for themselves. "
        "Citizen tokens are refused: they read their own profile through `me`.",
    )
    async def citizen(self, info: Info, card_number: strawberry.ID) -> Citizen | None:
        record = await find_citizen(str(card_number))
        if record is None:
            raise CitizenNotFound("no citizen with that card number", cardNumber=str(card_number))
        return Citizen.from_record(record)
