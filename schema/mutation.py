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
from schema.context import Info
from schema.errors import BadUserInput, ConsentNotFound, Forbidden
from schema.permissions import IsCitizenActing, require_principal
from schema.types.consent import Consent

_CONSENT_ID = re.compile(r"[0-9]{1,18}")  # consent ids are integers; anything else names no consent


@strawberry.type
class Mutation:
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
        return Consent.from_record(record)


def _known_scopes(scopes: list[str]) -> frozenset[str]:
    try:
        parsed = scope_catalogue.parse(scopes)
    except scope_catalogue.UnknownScope as exc:
        raise BadUserInput(str(exc), argument="scopes", known=sorted(scope_catalogue.READ_SCOPES)) from None
    if not parsed:
        raise BadUserInput("scopes: name at least one, or leave it out to revoke the whole consent", argument="scopes")
    return parsed
