"""docs/for-app-developers.md "Errors" lists every ``extensions.code`` the hub can send, and no other,
each with the HTTP status of the response that carries it."""

from __future__ import annotations

import re
from pathlib import Path

import schema.schema  # noqa: F401  (imports every module that defines an error class)
from auth.card.errors import CardCredentialError
from connectors.errors import AgencyError
from hub.graphql_app import _too_large, _unauthorized
from hub.outage import store_unavailable
from schema.errors import HubError

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "for-app-developers.md"
# Codes written as literals: extensions that build their GraphQLError by hand, the endpoint's own answers.
LITERAL = re.compile(r"""(?:code\s*=\s*|["']code["']\s*:\s*)["']([A-Z][A-Z_]+)["']|["'](GRAPHQL_[A-Z_]+)["']""")
SCANNED = [*(ROOT / "schema").rglob("*.py"), *(ROOT / "hub").glob("*.py")]


def subclass_codes(base: type) -> set[str]:
    found: set[str] = set()
    subclasses: list[type] = base.__subclasses__()
    for cls in subclasses:
        if isinstance(cls.__dict__.get("code"), str):
            found.add(cls.__dict__["code"])
        found |= subclass_codes(cls)
    return found


def wire_codes() -> set[str]:
    codes = {HubError.code} | subclass_codes(HubError)
    codes |= subclass_codes(AgencyError)  # the base's AGENCY_ERROR is never raised: each failure has its class
    codes |= subclass_codes(CardCredentialError)  # CardCredentialRefused carries them (schema/card_mutation.py)
    for path in SCANNED:
        for match in LITERAL.finditer(path.read_text(encoding="utf-8")):
            codes.add(match.group(1) or match.group(2))
    return codes


def catalogue() -> dict[str, set[int]]:
    section = DOC.read_text(encoding="utf-8").split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[int]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 4:
            continue
        statuses = {int(status) for status in cells[1].split(", ")}
        for code in re.findall(r"`([A-Z_]+)`", cells[0]):
            rows[code] = statuses
    return rows


def test_every_code_the_hub_sends_is_listed_and_nothing_else() -> None:
    documented, sent = set(catalogue()), wire_codes()
    assert "SERVICE_UNAVAILABLE" in sent and "AUDIT_UNAVAILABLE" in sent and "AGENCY_TIMEOUT" in sent
    assert sent - documented == set(), "codes the hub sends that the catalogue misses"
    assert documented - sent == set(), "codes the catalogue lists that the hub never sends"


def test_the_statuses_are_the_ones_the_endpoint_answers_with() -> None:
    rows = catalogue()
    assert rows["SERVICE_UNAVAILABLE"] == {store_unavailable().status_code}
    assert rows["REQUEST_TOO_LARGE"] == {_too_large(10, "r").status_code}
    refused = {_unauthorized(error, "", "r").status_code for error in ("invalid_token", "invalid_request")}
    assert rows["UNAUTHENTICATED"] == refused | {200}  # 200: no token, refused field by field
    others = {code: statuses for code, statuses in rows.items() if code not in ("SERVICE_UNAVAILABLE",
              "REQUEST_TOO_LARGE", "UNAUTHENTICATED")}  # fmt: skip
    assert all(statuses == {200} for statuses in others.values()), others
