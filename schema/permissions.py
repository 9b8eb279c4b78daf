"""Who may resolve what. Checked by strawberry before the resolver runs, so a denied section never
reaches its agency (or, later, the cache)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from auth.audit import Decision, Outcome
from auth.principal import Principal
from schema.context import Info
from schema.errors import ConsentRequired, Forbidden, Unauthenticated


def require_principal(info: Info) -> Principal:
    principal = info.context.principal
    if principal is None:
        raise Unauthenticated("a bearer token is required: Authorization: Bearer <token>")
    return principal


class IsCitizen(BasePermission):
    """A citizen's own token (``Query.me``)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not require_principal(info).is_citizen:
            raise Forbidden("me needs a citizen's token; clients read a citizen with citizen(cardNumber)")
        return True


class IsClient(BasePermission):
    """A client acting for itself (``Query.citizen``): citizen tokens read only their own profile."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        if principal.is_citizen:
            wanted = str(kwargs.get("card_number", ""))
            if wanted != principal.citizen:  # reading oneself this way is pointless, not a privacy event
                info.context.decisions.append(Decision(wanted, "profile", Outcome.DENIED, Forbidden.code))
            raise Forbidden("a citizen's token reads only that citizen: use me instead of citizen(cardNumber)")
        return True


class RequireScope(BasePermission):
    """The token must carry ``scope`` to read this part of the profile."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        citizen = str(source.card_number)
        if not principal.has_scope(self.scope):
            info.context.decisions.append(Decision(citizen, self.scope, Outcome.DENIED, ConsentRequired.code))
            raise ConsentRequired(f"this token has no consent for scope {self.scope!r}", scope=self.scope)
        info.context.decisions.append(Decision(citizen, self.scope, Outcome.ALLOWED))
        return True
