"""``Mutation.issueCardCredential``: the citizen's own app asks for a virtual card QR code.

Only the citizen, with a token of the city's own app (IsCitizenActing), holding ``card`` and the
scope of what the purpose reveals (schema/card_credential.py SCOPES) under an active consent.
Every issue is written to the citizen's access log as ``virtual_card.<purpose>``; a refusal too.
A credential is the citizen showing their card, not a grant: it opens nothing over GraphQL.
"""

from __future__ import annotations

import strawberry
from strawberry.permission import PermissionExtension

from auth.audit import Decision, Outcome
from auth.card.errors import CardCredentialError
from auth.card.issuer import audit_section
from schema.card_credential import SCOPES
from schema.context import Info
from schema.errors import ConsentRequired, Forbidden, HubError
from schema.permissions import IsCitizenActing, require_principal
from schema.types.card_credential import CardCredential, CardPurpose


class CardCredentialRefused(HubError):
    """The hub issues no credential; ``code`` is the refusal's own (CARD_NOT_ACTIVE, ...)."""

    def __init__(self, error: CardCredentialError) -> None:
        self.code = error.code
        status = getattr(error, "status", None)
        super().__init__(str(error), **({"status": status} if status else {}))


@strawberry.type
class CardMutation:
    @strawberry.mutation(
        extensions=[PermissionExtension(permissions=[IsCitizenActing()])],
        description="A fresh virtual card credential for `purpose`, valid a few minutes (expiresAt): show its "
        "QR code (svg) to the terminal and ask again before it expires. Needs the citizen's token from the "
        "city's own app holding `card`, and `transit`, `library` or `health` for those purposes. Recorded in "
        "the citizen's access log. Errors: FORBIDDEN, CONSENT_REQUIRED (a scope missing), CARD_NOT_ACTIVE "
        "(reported lost or cancelled), CREDENTIAL_TOO_LARGE, AGENCY_* (the agency could not be read).",
    )
    async def issue_card_credential(self, info: Info, purpose: CardPurpose) -> CardCredential:
        principal = require_principal(info)
        citizen = principal.citizen
        if citizen is None or info.context.services.card is None:
            raise Forbidden("only the citizen may do this: it needs a citizen's token")
        section = audit_section(purpose.purpose)
        standing = await info.context.consent_for(citizen, principal.client_id)
        for scope in SCOPES[purpose.purpose]:
            if not standing.allows(scope) or not principal.has_scope(scope):
                info.context.decisions.append(Decision(citizen, section, Outcome.DENIED, ConsentRequired.code))
                raise ConsentRequired(f"a {purpose.value} credential needs scope {scope!r}", scope=scope)
        try:
            issued = await info.context.services.card.issue(citizen, purpose.purpose, info.context.sections)
        except CardCredentialError as exc:
            info.context.decisions.append(Decision(citizen, section, Outcome.DENIED, exc.code))
            raise CardCredentialRefused(exc) from None
        info.context.decisions.append(Decision(citizen, section, Outcome.ALLOWED))
        return CardCredential.from_issued(issued)
