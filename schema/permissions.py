"""Who may resolve what. Checked by strawberry before the resolver runs, so a denied section never
reaches its agency (or, later, the cache)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode
from strawberry.permission import BasePermission

from auth import clients
from auth.audit import Decision, Outcome
from auth.consent import ConsentStatus, Standing
from auth.principal import Principal
from auth.scopes import READ_SCOPES
from schema.context import Info
from schema.errors import (
    ConsentExpired,
    ConsentPaused,
    ConsentRequired,
    ConsentRevoked,
    Forbidden,
    HubError,
    Unauthenticated,
)


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
    """A client acting for itself (``Query.citizen``) with a data scope: citizen tokens read only their own
    profile, and a token without any data scope (``connectors:manage`` alone) may not look citizens up."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        wanted = str(kwargs.get("card_number", ""))
        if principal.is_citizen:
            if wanted != principal.citizen:  # reading oneself this way is pointless, not a privacy event
                info.context.decisions.append(Decision(wanted, "profile", Outcome.DENIED, Forbidden.code))
            raise Forbidden("a citizen's token reads only that citizen: use me instead of citizen(cardNumber)")
        if not principal.scopes & READ_SCOPES:
            info.context.decisions.append(Decision(wanted, "profile", Outcome.DENIED, Forbidden.code))
            raise Forbidden("citizen(cardNumber) needs a token holding a data scope (card, transit, ...)")
        return True


class ManagesConnectors(BasePermission):
    """An agency's own client credentials token holding connectors:manage. Which connectors it may
    touch (only its agency's) is checked by the resolver against the client's registered agency."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        if principal.is_citizen or not principal.has_scope("connectors:manage"):
            raise Forbidden("needs an agency's client credentials token with the connectors:manage scope")
        return True


class RequireScope(BasePermission):
    """This part of the profile needs the citizen's active consent for the client, and the token's scope.

    Checked before the resolver, so a refused section never reaches its agency (or, later, a cache).
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        citizen = str(source.card_number)
        refusal = self._refusal(principal, await info.context.consent_for(citizen, principal.client_id))
        if refusal is not None:
            info.context.decisions.append(Decision(citizen, self.scope, Outcome.DENIED, refusal.code))
            raise refusal
        info.context.decisions.append(Decision(citizen, self.scope, Outcome.ALLOWED))
        return True

    def _refusal(self, principal: Principal, standing: Standing) -> HubError | None:
        scope = self.scope
        if standing.status is ConsentStatus.EXPIRED:
            return ConsentExpired("the citizen's consent for this client has expired: ask again", scope=scope)
        if standing.status is ConsentStatus.PAUSED and scope in standing.scopes:
            # Refused here, before the resolver: no agency call and no cache read while paused.
            return ConsentPaused(f"the citizen paused this consent: scope {scope!r} reads nothing until resumed",
                                 scope=scope)  # fmt: skip
        if standing.status is ConsentStatus.REVOKED or scope in standing.revoked:
            return ConsentRevoked(f"the citizen withdrew consent for scope {scope!r}", scope=scope)
        if not standing.allows(scope):
            return ConsentRequired(f"the citizen has not consented to scope {scope!r} for this client", scope=scope)
        if not principal.has_scope(scope):
            return ConsentRequired(f"this token does not carry scope {scope!r}", scope=scope)
        return None


class IsTheCitizen(BasePermission):
    """Only the citizen, with their own token and through ``me``: their consents and access log.

    No other party may list them, whatever its scopes. A refusal is recorded for the citizen (``part``
    names what was asked for), as an attempt on their records.
    """

    def __init__(self, part: str) -> None:
        self.part = part

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        citizen = str(source.card_number)
        if principal.citizen == citizen and root_field(info) == "me" and await first_party(principal):
            return True
        info.context.decisions.append(Decision(citizen, self.part, Outcome.DENIED, Forbidden.code))
        raise Forbidden(
            "only the citizen may list their consents and access log: with their own token from the city's "
            "own app, through me"
        )


class IsCitizenActing(BasePermission):
    """A citizen's token, for what only the citizen may do (``Mutation.revokeConsent``)."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = require_principal(info)
        if not principal.is_citizen or not await first_party(principal):
            raise Forbidden("only the citizen may do this: with their own token from the city's own app")
        return True


async def first_party(principal: Principal) -> bool:
    """Whether the token's client is one of the city's own apps (a third-party app must never see or
    change the citizen's consents with other apps)."""
    client = await clients.find(principal.client_id)
    return client is not None and client.first_party


def root_field(info: Info) -> str | None:
    """The name (not the alias) of the top-level field this resolver runs under, e.g. ``me``."""
    path = info.path
    while path.prev is not None:
        path = path.prev
    fragments = info._raw_info.fragments

    def find(selections: Sequence[SelectionNode]) -> str | None:
        for node in selections:
            if isinstance(node, FieldNode):
                if (node.alias or node.name).value == path.key:
                    return node.name.value
                continue
            if isinstance(node, InlineFragmentNode):
                found = find(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                found = find(fragments[node.name.value].selection_set.selections)
            else:
                continue
            if found is not None:
                return found
        return None

    return find(info.operation.selection_set.selections)
