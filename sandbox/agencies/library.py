"""Stand-in for the Xiamen Public Library (厦门市图书馆) OPAC vendor API.

A library-system vendor's style: camelCase JSON, money as integer fen, instants as epoch
milliseconds, offset/limit pages with ``total``, and errors as
``{"status": "error", "code": <int>, "message": ...}`` under the real HTTP status. Finding a
citizen's loans takes two steps: citizen card -> patron (with ``patronId``) -> loans / holds.
The data itself lives in ``library_data``; docs/agencies/library.md is the wire reference.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiohttp import web

from sandbox import credentials
from sandbox.agencies import library_data as data
from sandbox.app import AgencyDefinition
from sandbox.auth import ApiKeyChecker

PREFIX = "/opac/api"
KEY_HEADER = "X-Library-Key"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100

# The vendor's numeric error codes. The framework hands over symbolic names (UNAUTHORIZED,
# INJECTED_FAULT, ...); any name without an entry becomes the HTTP status times 100.
ERROR_CODES: dict[str, int] = {
    "INVALID_PARAMETER": 40001,
    "BAD_FAULT_HEADER": 40002,
    "INVALID_CARD_NUMBER": 40003,
    "UNAUTHORIZED": 40101,
    "PATRON_NOT_FOUND": 40401,
    "NO_SUCH_PATRON": 40402,
    "NO_SUCH_ENDPOINT": 40404,
}

_CARD_RE = re.compile(r"\d{12}")
_UINT_RE = re.compile(r"\d{1,9}")

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def error_response(status: int, code: str, message: str) -> web.Response:
    body = {"status": "error", "code": ERROR_CODES.get(code, status * 100), "message": message}
    return web.json_response(body, status=status, dumps=_dumps)


class _BadParameter(Exception):
    pass


def _millis(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _day_millis(day: date) -> int:
    """A calendar date on the wire: midnight China time, in epoch milliseconds."""
    return _millis(datetime(day.year, day.month, day.day, tzinfo=data.CST))


def _page_params(request: web.Request) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.query.get(name)
        if raw is None:
            return default
        if not _UINT_RE.fullmatch(raw) or not low <= int(raw) <= high:
            raise _BadParameter(f"{name} must be an integer from {low} to {high}, got {raw!r}")
        return int(raw)

    return number("offset", 0, 0, 10**9 - 1), number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def _patron_json(patron: data.Patron) -> dict[str, Any]:
    return {
        "patronId": patron.patron_id,
        "cardNumber": patron.card_number,
        "name": patron.name,
        "citizenCardNo": patron.citizen_card,
        "status": "ACTIVE",
        "homeBranch": patron.home_branch,
        "registeredAt": _day_millis(patron.registered_on),
        "fineBalance": patron.fine_fen,
        "loanCount": len(patron.loans),
        "holdCount": len(patron.holds),
    }


def _loan_json(loan: data.Loan, today: date) -> dict[str, Any]:
    return {
        "loanId": loan.loan_id,
        "itemBarcode": loan.barcode,
        "title": loan.title,
        "author": loan.author,
        "callNumber": loan.call_number,
        "branch": loan.branch,
        "borrowedAt": _millis(loan.borrowed_at),
        "dueAt": _millis(loan.due_at),
        "renewals": loan.renewals,
        "overdue": loan.overdue(today),
        "fineAccrued": loan.fine_fen(today),
    }


def _hold_json(hold: data.Hold) -> dict[str, Any]:
    pickup_by = hold.pickup_by_at
    return {
        "holdId": hold.hold_id,
        "title": hold.title,
        "author": hold.author,
        "pickupBranch": hold.pickup_branch,
        "reservedAt": _millis(hold.reserved_at),
        "status": hold.status,
        "queuePosition": hold.queue_position,
        "pickupBy": None if pickup_by is None else _millis(pickup_by),
    }


async def patron_by_citizen_card(request: web.Request) -> web.Response:
    card = request.match_info["cardNo"]
    if not _CARD_RE.fullmatch(card):
        return error_response(400, "INVALID_CARD_NUMBER", "citizen card number must be 12 digits")
    patron = data.patron_for_card(card)
    if patron is None:
        return error_response(404, "PATRON_NOT_FOUND", f"no patron registered for citizen card {card}")
    return web.json_response(_patron_json(patron), dumps=_dumps)


def _list_handler(kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            offset, limit = _page_params(request)
        except _BadParameter as exc:
            return error_response(400, "INVALID_PARAMETER", str(exc))
        raw_id = request.match_info["patronId"]
        patron = data.patron_by_id(int(raw_id)) if _UINT_RE.fullmatch(raw_id) else None
        if patron is None:
            return error_response(404, "NO_SUCH_PATRON", f"no patron with id {raw_id}")
        if kind == "loans":
            entries = [_loan_json(loan, patron.today) for loan in patron.loans]
        else:
            entries = [_hold_json(hold) for hold in patron.holds]
        body = {
            "offset": offset,
            "limit": limit,
            "total": len(entries),
            "entries": entries[offset : offset + limit],
        }
        return web.json_response(body, dumps=_dumps)

    return handler


async def unknown_endpoint(request: web.Request) -> web.Response:
    return error_response(404, "NO_SUCH_ENDPOINT", f"no endpoint {request.path}")


# --- OpenAPI ---------------------------------------------------------------------------------

_ERROR_REF = {"$ref": "#/components/responses/Error"}
_EPOCH_MS = {"type": "integer", "format": "int64", "description": "epoch milliseconds"}
_PATRON_ID_PARAM = {
    "name": "patronId",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "patronId from the patron lookup",
}
_PAGE_PARAMS = [
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
]


def _page_schema(entry_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["offset", "limit", "total", "entries"],
        "properties": {
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
            "total": {"type": "integer", "description": "entries across all pages"},
            "entries": {"type": "array", "items": {"$ref": entry_ref}},
        },
    }


def _list_operation(summary: str, page_ref: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [_PATRON_ID_PARAM, *_PAGE_PARAMS],
            "responses": {
                "200": {
                    "description": "one page",
                    "content": {"application/json": {"schema": {"$ref": page_ref}}},
                },
                "400": _ERROR_REF,
                "401": _ERROR_REF,
                "404": _ERROR_REF,
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "厦门市图书馆 OPAC API (sandbox)",
        "version": "2.3.0",
        "description": "Patron lookup by citizen card, loans and holds. Money in fen, instants in epoch ms.",
    },
    "servers": [{"url": "/"}],
    "security": [{"libraryKey": []}],
    "paths": {
        f"{PREFIX}/patrons/by-citizen-card/{{cardNo}}": {
            "get": {
                "summary": "Find the patron registered with a citizen card",
                "parameters": [
                    {
                        "name": "cardNo",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "the patron",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Patron"}}},
                    },
                    "400": _ERROR_REF,
                    "401": _ERROR_REF,
                    "404": _ERROR_REF,
                },
            }
        },
        f"{PREFIX}/patrons/{{patronId}}/loans": _list_operation(
            "Current loans, most recently borrowed first", "#/components/schemas/LoanPage"
        ),
        f"{PREFIX}/patrons/{{patronId}}/holds": _list_operation(
            "Open holds (reservations), most recently placed first", "#/components/schemas/HoldPage"
        ),
    },
    "components": {
        "securitySchemes": {"libraryKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER}},
        "responses": {
            "Error": {
                "description": "error in the vendor's format",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"const": "error"},
                    "code": {"type": "integer", "examples": sorted(ERROR_CODES.values())},
                    "message": {"type": "string"},
                },
            },
            "Patron": {
                "type": "object",
                "required": ["patronId", "cardNumber", "fineBalance"],
                "properties": {
                    "patronId": {"type": "integer"},
                    "cardNumber": {"type": "string", "pattern": "^LIB[0-9]+$"},
                    "name": {"type": "string"},
                    "citizenCardNo": {"type": "string"},
                    "status": {"enum": ["ACTIVE"]},
                    "homeBranch": {"type": "string"},
                    "registeredAt": _EPOCH_MS,
                    "fineBalance": {"type": "integer", "minimum": 0, "description": "outstanding fines, fen"},
                    "loanCount": {"type": "integer"},
                    "holdCount": {"type": "integer"},
                },
            },
            "Loan": {
                "type": "object",
                "required": ["loanId", "title", "borrowedAt", "dueAt", "overdue"],
                "properties": {
                    "loanId": {"type": "string"},
                    "itemBarcode": {"type": "string"},
                    "title": {"type": "string"},
                    "author": {"type": "string"},
                    "callNumber": {"type": "string"},
                    "branch": {"type": "string"},
                    "borrowedAt": _EPOCH_MS,
                    "dueAt": {**_EPOCH_MS, "description": "23:59:59 China time on the due date, epoch ms"},
                    "renewals": {"type": "integer"},
                    "overdue": {"type": "boolean"},
                    "fineAccrued": {"type": "integer", "description": "fen; 10 per day overdue"},
                },
            },
            "Hold": {
                "type": "object",
                "required": ["holdId", "title", "reservedAt", "status"],
                "properties": {
                    "holdId": {"type": "string"},
                    "title": {"type": "string"},
                    "author": {"type": "string"},
                    "pickupBranch": {"type": "string"},
                    "reservedAt": _EPOCH_MS,
                    "status": {"enum": list(data.HOLD_STATUSES)},
                    "queuePosition": {"type": ["integer", "null"]},
                    "pickupBy": {**_EPOCH_MS, "type": ["integer", "null"]},
                },
            },
            "LoanPage": _page_schema("#/components/schemas/Loan"),
            "HoldPage": _page_schema("#/components/schemas/Hold"),
        },
    },
}


def definition() -> AgencyDefinition:
    return AgencyDefinition(
        id="library",
        name="厦门市图书馆",
        routes=[
            web.get(f"{PREFIX}/patrons/by-citizen-card/{{cardNo}}", patron_by_citizen_card),
            web.get(f"{PREFIX}/patrons/{{patronId}}/loans", _list_handler("loans")),
            web.get(f"{PREFIX}/patrons/{{patronId}}/holds", _list_handler("holds")),
            # Last, so it only catches what nothing above matched: the vendor's 404, not aiohttp's.
            web.get("/opac/{tail:.*}", unknown_endpoint),
        ],
        openapi=OPENAPI,
        auth=ApiKeyChecker(header=KEY_HEADER, keys=frozenset({credentials.LIBRARY_API_KEY})),
        error_response=error_response,
    )
