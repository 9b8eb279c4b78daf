"""Stand-in for the Municipal Health Commission's citizen health card platform (市卫健委健康卡平台).

Static API key in ``X-Api-Key``; snake_case JSON; dates ``YYYY-MM-DD``; ``page_no``/``page_size``
pagination with ``total_pages``; errors ``{"error": {"code", "message"}}`` with the real HTTP status.
Wire reference: docs/agencies/health.md. Records: ``sandbox.agencies.health_data``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from sandbox import credentials
from sandbox.agencies.health_data import HealthRecords, records_for
from sandbox.app import AgencyDefinition
from sandbox.auth import ApiKeyChecker

PREFIX = "/health-card/v1"
API_KEY_HEADER = "X-Api-Key"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
CARD_NO = re.compile(r"\d{12}")


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class _BadParameter(Exception):
    pass


Answer = Callable[[web.Request, HealthRecords], web.Response]


def _route(path: str, answer: Answer) -> web.RouteDef:
    """A GET route for one resident; unknown residents and bad parameters answer in the platform's format."""

    async def handle(request: web.Request) -> web.Response:
        card_no = request.match_info["card_no"]
        if not CARD_NO.fullmatch(card_no):
            return error_response(400, "INVALID_PARAMETER", "card_no must be the 12-digit citizen card number")
        records = records_for(card_no)
        if records is None:
            return error_response(404, "NOT_FOUND", f"no health card for resident {card_no}")
        try:
            return answer(request, records)
        except _BadParameter as exc:
            return error_response(400, "INVALID_PARAMETER", str(exc))

    return web.get(path, handle)


def _positive_int(request: web.Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        bound = f"between 1 and {maximum}" if maximum is not None else "a positive integer"
        raise _BadParameter(f"{name} must be {bound}, got {raw!r}")
    return int(raw)


def _page(request: web.Request, items: Sequence[dict[str, Any]]) -> web.Response:
    page_no = _positive_int(request, "page_no", 1)
    page_size = _positive_int(request, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    start = (page_no - 1) * page_size
    return web.json_response(
        {
            "card_no": request.match_info["card_no"],
            "page_no": page_no,
            "page_size": page_size,
            "total_count": len(items),
            "total_pages": math.ceil(len(items) / page_size),
            "records": list(items[start : start + page_size]),
        }
    )


def _resident(request: web.Request, records: HealthRecords) -> web.Response:
    return web.json_response(records.resident)


def _visits(request: web.Request, records: HealthRecords) -> web.Response:
    return _page(request, records.visits)


def _vaccinations(request: web.Request, records: HealthRecords) -> web.Response:
    return _page(request, records.vaccinations)


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "examples": ["NOT_FOUND", "INVALID_PARAMETER", "UNAUTHORIZED", "INJECTED_FAULT"],
                    },
                    "message": {"type": "string"},
                },
            }
        },
    }


_DATE = {"type": "string", "format": "date", "examples": ["2025-03-14"]}
_CARD_PARAM = {
    "name": "card_no",
    "in": "path",
    "required": True,
    "description": "12-digit citizen card number",
    "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
}
_PAGE_PARAMS = [
    {"name": "page_no", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "page_size",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    },
]
_ERRORS = {
    str(status): {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for status, text in ((400, "bad parameter"), (401, "missing or wrong API key"), (404, "no such resident"))
}


def _page_schema(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["card_no", "page_no", "page_size", "total_count", "total_pages", "records"],
        "properties": {
            "card_no": {"type": "string"},
            "page_no": {"type": "integer"},
            "page_size": {"type": "integer"},
            "total_count": {"type": "integer"},
            "total_pages": {"type": "integer", "description": "0 when there are no records"},
            "records": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        },
    }


def _get(summary: str, schema: str, paged: bool) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [_CARD_PARAM, *(_PAGE_PARAMS if paged else [])],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                },
                **_ERRORS,
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "市卫健委健康卡平台 (Municipal Health Commission health card platform)",
        "version": "1.0.0",
        "description": "Residents' health cards, clinic visits and vaccinations. Lists are newest first.",
    },
    "security": [{"ApiKey": []}],
    "paths": {
        f"{PREFIX}/residents/{{card_no}}": _get("A resident's health card", "Resident", paged=False),
        f"{PREFIX}/residents/{{card_no}}/visits": _get("Clinic and hospital visits", "VisitPage", paged=True),
        f"{PREFIX}/residents/{{card_no}}/vaccinations": _get("Vaccinations", "VaccinationPage", paged=True),
    },
    "components": {
        "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}},
        "schemas": {
            "Error": _error_schema(),
            "Resident": {
                "type": "object",
                "required": ["card_no", "health_card_no", "card_status", "issued_on", "registered_clinic"],
                "properties": {
                    "card_no": {"type": "string"},
                    "health_card_no": {"type": "string", "pattern": "^HC[0-9]{16}$"},
                    "card_status": {"type": "string", "enum": ["active"]},
                    "issued_on": _DATE,
                    "registered_clinic": {
                        "description": "family-doctor contract clinic; null when never registered",
                        "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Clinic"}],
                    },
                },
            },
            "Clinic": {
                "type": "object",
                "required": ["clinic_code", "clinic_name", "signed_on"],
                "properties": {
                    "clinic_code": {"type": "string"},
                    "clinic_name": {"type": "string"},
                    "signed_on": _DATE,
                },
            },
            "Visit": {
                "type": "object",
                "required": ["visit_no", "visit_date", "visit_type", "facility_name", "department_name"],
                "properties": {
                    "visit_no": {"type": "string"},
                    "visit_date": _DATE,
                    "visit_type": {"type": "string", "enum": ["outpatient", "inpatient", "emergency"]},
                    "facility_name": {"type": "string"},
                    "department_name": {"type": "string"},
                    "discharge_date": {"oneOf": [{"type": "null"}, _DATE], "description": "inpatients only"},
                },
            },
            "Vaccination": {
                "type": "object",
                "required": ["record_no", "vaccine_name", "dose_no", "vaccinated_on"],
                "properties": {
                    "record_no": {"type": "string"},
                    "vaccine_name": {"type": "string"},
                    "dose_no": {"type": "integer", "minimum": 1},
                    "vaccinated_on": _DATE,
                    "site_name": {"type": "string"},
                    "batch_no": {"type": "string"},
                },
            },
            "VisitPage": _page_schema("Visit"),
            "VaccinationPage": _page_schema("Vaccination"),
        },
    },
}


def definition() -> AgencyDefinition:
    return AgencyDefinition(
        id="health",
        name="市卫健委健康卡平台",
        routes=[
            _route(f"{PREFIX}/residents/{{card_no}}", _resident),
            _route(f"{PREFIX}/residents/{{card_no}}/visits", _visits),
            _route(f"{PREFIX}/residents/{{card_no}}/vaccinations", _vaccinations),
        ],
        openapi=OPENAPI,
        auth=ApiKeyChecker(header=API_KEY_HEADER, keys=frozenset({credentials.HEALTH_API_KEY})),
        error_response=error_response,
    )
