"""Stand-in for Xiamen e-tong Card Co. (厦门易通卡运营有限责任公司): the city's transit card.

A modern company API: OAuth2 client credentials, camelCase JSON, money as decimal strings, instants
in ISO 8601 with offset, cursor pagination, RFC 7807 problem bodies. See docs/agencies/transit.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sandbox import credentials
from sandbox.agencies import transit_data as data
from sandbox.app import AgencyDefinition
from sandbox.auth import ClientCredentialsIssuer

TOKEN_PATH = "/oauth/token"
TOKEN_TTL_SECONDS = 300
PROBLEM_BASE = "https://api.xmetong.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    "CARD_NOT_FOUND": "Card not found",
    "NOT_FOUND": "No such resource",
    "INVALID_PARAMETER": "Invalid query parameter",
    "INVALID_CURSOR": "Invalid cursor",
    "UNAUTHORIZED": "Authentication required",
    "INJECTED_FAULT": "Service unavailable",
    "BAD_FAULT_HEADER": "Invalid fault header",
}


def problem(status: int, code: str, detail: str) -> web.Response:
    """An RFC 7807 body; ``type`` is the code as a URI slug, e.g. CARD_NOT_FOUND -> .../card-not-found."""
    body = {
        "type": PROBLEM_BASE + code.lower().replace("_", "-"),
        "title": _TITLES.get(code, HTTPStatus(status).phrase),
        "status": status,
        "detail": detail,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="e-tong"'} if status == 401 else None
    return web.json_response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _card_json(card: data.CardRecord) -> dict[str, Any]:
    return {
        "cardNumber": card.card_number,
        "citizenCardNumber": card.citizen_card_number,
        "status": "ACTIVE",
        "concession": card.concession,
        "balance": data.money(card.balance_fen),
        "currency": "CNY",
    }


def _trip_json(trip: data.TripRecord) -> dict[str, Any]:
    return {
        "tripId": trip.trip_id,
        "startedAt": trip.started_at.isoformat(),
        "mode": trip.mode,
        "line": trip.line,
        "entryStop": trip.entry_stop,
        "exitStop": trip.exit_stop,
        "fare": data.money(trip.fare_fen),
        "fullFare": data.money(trip.full_fare_fen),
    }


def _encode_cursor(card_number: str, trip: data.TripRecord) -> str:
    # Keyset, not offset: a page boundary stays put even if trips are added while a client walks.
    raw = json.dumps({"c": card_number, "t": trip.trip_id, "at": trip.started_at.isoformat()})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, card_number: str) -> tuple[str, str]:
    """(startedAt, tripId) of the last trip the previous page held. ValueError when not ours."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = (str(raw["at"]), str(raw["t"]))
        owner = raw["c"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise ValueError("cursor is not one this API issued") from exc
    if owner != card_number:
        raise ValueError("cursor belongs to another card")
    return key


async def citizen_card(request: web.Request) -> web.Response:
    number = request.match_info["citizenCardNumber"]
    card = data.card_for_citizen(number)
    if card is None:
        return problem(404, "CARD_NOT_FOUND", f"no e-tong card is linked to citizen card {number}")
    return web.json_response(_card_json(card))


async def card(request: web.Request) -> web.Response:
    number = request.match_info["cardNumber"]
    found = data.card_by_number(number)
    if found is None:
        return problem(404, "CARD_NOT_FOUND", f"no e-tong card {number}")
    return web.json_response(_card_json(found))


async def trips(request: web.Request) -> web.Response:
    number = request.match_info["cardNumber"]
    raw_limit = request.query.get("limit", str(data.PAGE_LIMIT_DEFAULT))
    try:
        limit = int(raw_limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= data.PAGE_LIMIT_MAX:
        return problem(
            400,
            "INVALID_PARAMETER",
            f"limit must be an integer from 1 to {data.PAGE_LIMIT_MAX}, got {raw_limit!r}",
        )
    found = data.card_by_number(number)
    if found is None:
        return problem(404, "CARD_NOT_FOUND", f"no e-tong card {number}")
    items = list(found.trips)
    cursor = request.query.get("cursor")
    if cursor is not None:
        try:
            after = _decode_cursor(cursor, number)
        except ValueError as exc:
            return problem(400, "INVALID_CURSOR", str(exc))
        items = [t for t in items if (t.started_at.isoformat(), t.trip_id) < after]
    page = items[:limit]
    next_cursor = _encode_cursor(number, page[-1]) if len(items) > limit else None
    return web.json_response({"items": [_trip_json(t) for t in page], "nextCursor": next_cursor})


async def unknown(request: web.Request) -> web.Response:
    return problem(404, "NOT_FOUND", f"no resource at {request.path}")


def _money_schema(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": description, "examples": ["12.50"]}


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_REF}}}


def _json_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_CARD_NUMBER_PARAM = {
    "name": "cardNumber",
    "in": "path",
    "required": True,
    "description": "e-tong card number: ET and 12 digits",
    "schema": {"type": "string", "pattern": r"^ET\d{12}$"},
}
_ERRORS = {
    "401": _problem_response("Missing, invalid or expired bearer token"),
    "404": _problem_response("No such card (type .../card-not-found)"),
    "503": _problem_response("Service unavailable"),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Xiamen e-tong Card API (sandbox)",
        "version": "1.0.0",
        "description": "厦门易通卡运营有限责任公司: card balance, concession and trips of the last 60 days.",
    },
    "security": [{"etongOAuth": []}],
    "paths": {
        TOKEN_PATH: {
            "post": {
                "summary": "OAuth2 client credentials grant (RFC 6749 4.4)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {"grant_type": {"const": "client_credentials"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json_response("A bearer token", "Token"),
                    "400": {"description": 'Not a client credentials grant: {"error": "unsupported_grant_type"}'},
                    "401": {"description": 'Wrong client id or secret: {"error": "invalid_client"}'},
                },
            }
        },
        "/v1/citizens/{citizenCardNumber}/card": {
            "get": {
                "summary": "The e-tong card linked to a citizen card",
                "parameters": [
                    {
                        "name": "citizenCardNumber",
                        "in": "path",
                        "required": True,
                        "description": "Citizen card number, 12 digits",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _json_response("The card", "Card"), **_ERRORS},
            }
        },
        "/v1/cards/{cardNumber}": {
            "get": {
                "summary": "One e-tong card: balance, concession, status",
                "parameters": [_CARD_NUMBER_PARAM],
                "responses": {"200": _json_response("The card", "Card"), **_ERRORS},
            }
        },
        "/v1/cards/{cardNumber}/trips": {
            "get": {
                "summary": "Trips of the last 60 days, newest first, one page at a time",
                "parameters": [
                    _CARD_NUMBER_PARAM,
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "Page size",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "description": "Opaque nextCursor of the previous page; omit for the first page",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": _json_response("One page of trips", "TripPage"),
                    "400": _problem_response("Bad limit or cursor"),
                    **_ERRORS,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "etongOAuth": {
                "type": "oauth2",
                "description": "client_secret_basic; tokens live 300 seconds",
                "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": {}}},
            }
        },
        "schemas": {
            "Token": {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"const": "Bearer"},
                    "expires_in": {"type": "integer", "examples": [TOKEN_TTL_SECONDS]},
                },
            },
            "Card": {
                "type": "object",
                "required": [
                    "cardNumber",
                    "citizenCardNumber",
                    "status",
                    "concession",
                    "balance",
                    "currency",
                ],
                "properties": {
                    "cardNumber": {"type": "string", "pattern": r"^ET\d{12}$"},
                    "citizenCardNumber": {"type": "string"},
                    "status": {"enum": ["ACTIVE", "BLOCKED"]},
                    "concession": {"enum": ["ADULT", "SENIOR", "STUDENT", "DISABLED"]},
                    "balance": _money_schema("Yuan; negative when the card is overdrawn"),
                    "currency": {"const": "CNY"},
                },
            },
            "Trip": {
                "type": "object",
                "required": [
                    "tripId",
                    "startedAt",
                    "mode",
                    "line",
                    "entryStop",
                    "exitStop",
                    "fare",
                    "fullFare",
                ],
                "properties": {
                    "tripId": {"type": "string"},
                    "startedAt": {
                        "type": "string",
                        "format": "date-time",
                        "examples": ["2026-11-20T08:13:00+08:00"],
                    },
                    "mode": {"enum": ["BUS", "BRT", "METRO", "FERRY"]},
                    "line": {"type": "string"},
                    "entryStop": {"type": "string"},
                    "exitStop": {"type": ["string", "null"], "description": "null for flat-fare buses"},
                    "fare": _money_schema("What the card paid, after the concession"),
                    "fullFare": _money_schema("The adult fare for the same ride"),
                },
            },
            "TripPage": {
                "type": "object",
                "required": ["items", "nextCursor"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Trip"}},
                    "nextCursor": {"type": ["string", "null"], "description": "null on the last page"},
                },
            },
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}


def definition() -> AgencyDefinition:
    issuer = ClientCredentialsIssuer(
        client_id=credentials.TRANSIT_CLIENT_ID,
        client_secret=credentials.TRANSIT_CLIENT_SECRET,
        ttl=TOKEN_TTL_SECONDS,
    )
    return AgencyDefinition(
        id="transit",
        name="Xiamen e-tong Card Co.",
        routes=[
            web.post(TOKEN_PATH, issuer.token_endpoint),
            web.get("/v1/citizens/{citizenCardNumber}/card", citizen_card),
            web.get("/v1/cards/{cardNumber}", card),
            web.get("/v1/cards/{cardNumber}/trips", trips),
            web.get("/v1/{tail:.*}", unknown),  # last: our problem body instead of aiohttp's plain 404
        ],
        openapi=OPENAPI,
        auth=issuer,
        error_response=problem,
        public_paths=frozenset({TOKEN_PATH}),
    )
