"""Who is asking: the principal behind a request's bearer token."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """A citizen acting through a client app, or a client (app or agency) acting for itself.

    ``citizen`` is the card number the token speaks for, or None for a client's own token
    (agency clients reading ``citizen(cardNumber)``).
    """

    client_id: str
    scopes: frozenset[str]
    citizen: str | None = None
    token_id: str | None = None  # id of the stored token record, for audit and revocation

    @property
    def is_citizen(self) -> bool:
        return self.citizen is not None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
