"""What a citizen can change through the schema: withdrawing consent.

Revoking is not a read of citizen data, so it adds nothing to the audit log; the consent's own history
records it (``auth/consent.py``).
"""

from __future__ import annotations

import re

import strawberry
from strawberry.permission import PermissionExtension

from auth import consent
from auth import scopes as scope_catalogue
from auth.consent import Consent as ConsentRecord
from auth.consent import ConsentError, ConsentStatus
from schema import connector_admin
from schema.card_mutation import CardMutation
from schema.context import Info
from schema.errors import BadUserInput, ConsentNotFound, Forbidden
from schema.permissions import IsCitizenActing, ManagesConnectors, require_principal
from schema.rights import RightsMutation
from schema.types.connector import Connector, ConnectorRegistration
from schema.types.consent import Consent

_CONSENT_ID = re.compile(r"[0-9]{1,18}")  # consent ids are integers; anything else names no consent


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[IsCitizenActing()])],
        description="Withdraw one of your consents: only the given `scopes`, or the whole consent when `scopes` "
        "is left out. Takes effect on the client's very next request; revoking the whole consent also ends "
        "the client's tokens for you. Needs a citizen's token (others: FORBIDDEN). Errors: CONSENT_NOT_FOUND "
        "(no such consent of yours), BAD_USER_INPUT (unknown scope, a scope the consent does not grant, or "
        "a consent already revoked or expired).",
    )
    async def revoke_consent(
        self, info: Info, consent_id: strawberry.ID, scopes: list[str] | None = None
    ) -> Consent | None:
        citizen = require_principal(info).citizen
        if citizen is None:  # IsCitizenActing has refused already; this keeps the type checker honest
            raise Forbidden("only the citizen may do this: it needs a citizen's token")
        withdrawn = None if scopes is None else _known_scopes(scopes)
        if not _CONSENT_ID.fullmatch(str(consent_id)):
            raise ConsentNotFound("no such consent", consentId=str(consent_id))
        number = int(consent_id)
        try:
            record = await consent.revoke(citizen, number, withdrawn)
        except ConsentError as exc:
            # Not found, or found and not revocable: only the citizen's own consents count as found.
            found = await ConsentRecord.get_or_none(id=number, citizen=citizen)
            if found is None:
                raise ConsentNotFound("no such consent", consentId=str(consent_id)) from None
            argument = "scopes" if found.status is ConsentStatus.ACTIVE else "consentId"
            raise BadUserInput(str(exc), argument=argument) from None
        await info.context.services.sections.consent_withdrawn(citizen, record.revoked_scopes)
        return Consent.from_record(record)


@strawberry.type
class ConnectorMutation:
    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[ManagesConnectors()])],
        description="Register a new version of your agency's connector from a manifest (TOML or JSON; "
        "docs/for-agencies.md). It is checked, then contract-tested against your live system with its test "
        "citizen, and only then put in force, without a restart. Errors: MANIFEST_INVALID or "
        "CONTRACT_TEST_FAILED with extensions.problems [{path, reason}]; FORBIDDEN for another agency's "
        "connector. Nothing is stored and the connector in force is untouched when it fails.",
    )
    async def register_connector(self, info: Info, manifest: str) -> ConnectorRegistration:
        return await connector_admin.register(info, manifest)

    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[ManagesConnectors()])],
        description="Stop using your agency's connector: its section comes back null with AGENCY_UNAVAILABLE "
        "until a version is registered again. Errors: CONNECTOR_NOT_FOUND, FORBIDDEN, BAD_USER_INPUT "
        "(already disabled).",
    )
    async def disable_connector(self, info: Info, agency: strawberry.ID) -> Connector:
        return await connector_admin.disable(info, str(agency))


def _known_scopes(scopes: list[str]) -> frozenset[str]:
    try:
        parsed = scope_catalogue.parse(scopes)
    except scope_catalogue.UnknownScope as exc:
        raise BadUserInput(str(exc), argument="scopes", known=sorted(scope_catalogue.READ_SCOPES)) from None
    if not parsed:
        raise BadUserInput("scopes: name at least one, or leave it out to revoke the whole consent", argument="scopes")
    return parsed


@strawberry.type
class Mutation(ConsentMutation, ConnectorMutation, CardMutation, RightsMutation):
    """Citizens withdraw consent and ask for virtual card credentials; agencies manage their connectors."""
