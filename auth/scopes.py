"""The scope catalogue: one read scope per profile section.

One table from which the token CLI, the schema's checks and the docs all read. The consent screen
and server metadata read it too once the authorization server lands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    reveals: str  # what it reveals, in words a citizen understands
    source: str  # the agency the data comes from ("cardhub" for the hub's own card registry)
    sensitive: bool = False


CATALOGUE: tuple[Scope, ...] = (
    Scope("card", "Your name and citizen card: number, status, issue date, virtual card", "cardhub"),
    Scope("social_security", "Insurance enrolment, medical account balance, contributions", "social_security"),
    Scope("transit", "Transit card balance, concession and recent trips", "transit"),
    Scope("health", "Health card, registered clinic, hospital visits, vaccinations", "health", sensitive=True),
    Scope("housing_fund", "Housing fund account, balance, deposits, employer, loans", "housing_fund", sensitive=True),
    Scope("library", "Library card, loans, reservations and fines", "library"),
)

BY_NAME: dict[str, Scope] = {s.name: s for s in CATALOGUE}
READ_SCOPES: frozenset[str] = frozenset(BY_NAME)

# An agency client's own operations, not citizen data: granted to the client at registration, used with
# client credentials, never shown on a consent screen and never asked of a citizen.
CLIENT_SCOPES: dict[str, str] = {
    "connectors:manage": "Register, update, roll back and disable the agency's own connectors",
}


class UnknownScope(ValueError):
    def __init__(self, unknown: set[str]) -> None:
        super().__init__(f"unknown scope(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(READ_SCOPES))}")
        self.unknown = unknown


def parse(scopes: list[str] | str, *, client_scopes: bool = False) -> frozenset[str]:
    """Space-separated (RFC 6749 section 3.3) or a list. Unknown scopes are refused, not ignored.
    ``client_scopes``: also accept the client-operation scopes (registering a client)."""
    items = scopes.split() if isinstance(scopes, str) else [s for part in scopes for s in part.split()]
    unknown = set(items) - READ_SCOPES - (set(CLIENT_SCOPES) if client_scopes else set())
    if unknown:
        raise UnknownScope(unknown)
    return frozenset(items)


# GraphQL fields each scope guards, for the docs (schema/types/citizen.py holds the checks themselves).
GUARDS: dict[str, str] = {
    "card": "`name`, `card`",
    "social_security": "`socialSecurity`",
    "transit": "`transit`",
    "health": "`health`",
    "housing_fund": "`housingFund`",
    "library": "`library`",
}


def markdown_table() -> str:
    """The catalogue as the Markdown table in docs/for-app-developers.md (``cardhub scopes``)."""
    rows = ["| Scope | Guards | Reveals | Source | Sensitive |", "|---|---|---|---|---|"]
    for s in CATALOGUE:
        sensitive = "**yes**" if s.sensitive else "no"
        rows.append(f"| `{s.name}` | {GUARDS[s.name]} | {s.reveals} | `{s.source}` | {sensitive} |")
    return "\n".join(rows)
