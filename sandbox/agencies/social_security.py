"""Stand-in for the city Social Security Bureau (厦门市社会保险管理中心).

An old government system behind an API gateway: HMAC-signed requests, snake_case JSON, money in
integer fen, dates ``YYYYMMDD`` and periods ``YYYYMM``. Business errors (e.g. not found) come back as
HTTP 200 with a non-zero ``errcode``; only gateway-level failures (auth, bad parameters, outages) use
the real HTTP status, with the same body shape. See docs/agencies/social_security.md.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from typing import Any

from aiohttp import web

from sandbox import clock, credentials
from sandbox.agencies import social_security_data as data
from sandbox.app import AgencyDefinition
from sandbox.auth import HmacChecker

PREFIX = "/si/api/v2/insured"
DEFAULT_SIZE = 12
MAX_SIZE = 50
ERR_NOT_FOUND = 40401
_DIGITS = re.compile(r"[0-9]+")
_dumps = functools.partial(json.dumps, ensure_ascii=False)  # the bureau sends UTF-8 text, not \u escapes


def error_response(status: int, code: str, message: str) -> web.Response:
    """The gateway's error body: errcode is the HTTP status * 100 + 1 (401 -> 40101, 503 -> 50301)."""
    return web.json_response({"errcode": status * 100 + 1, "errmsg": f"{code}: {message}"}, status=status, dumps=_dumps)


def _ok(payload: dict[str, Any]) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", "data": payload}, dumps=_dumps)


def _not_found(card_no: str) -> web.Response:
    # Business error: HTTP 200, as the bureau's system has always answered.
    return web.json_response(
        {"errcode": ERR_NOT_FOUND, "errmsg": f"未查询到参保信息 (no insured person {card_no})"}, dumps=_dumps
    )


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def _ym(d: date) -> str:
    return d.strftime("%Y%m")


async def insured_handler(request: web.Request) -> web.Response:
    card_no = request.match_info["card_no"]
    record = data.insured(card_no)
    if record is None:
        return _not_found(card_no)
    return _ok(
        {
            "card_no": card_no,
            "name": record.persona.name,
            "insured_status": record.status,
            "insured_status_name": data.INSURED_STATUS_NAMES[record.status],
            "employer_name": record.employer_name,
            "first_insured_date": _ymd(record.first_insured),
            "retire_date": _ymd(record.retire_date) if record.retire_date else None,
            "medical_scheme": record.medical_scheme,
            "medical_account_balance": record.medical_balance_fen,
            "insurance_list": [
                {
                    "insurance_code": i.code,
                    "insurance_name": i.name,
                    "status": i.status,
                    "status_name": data.STATUS_NAMES[i.status],
                    "start_date": _ymd(i.start),
                }
                for i in record.insurances
            ],
            "query_date": _ymd(clock.today()),
        }
    )


def _positive_int(request: web.Request, name: str, default: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        return None
    return int(raw)


async def contributions_handler(request: web.Request) -> web.Response:
    card_no = request.match_info["card_no"]
    page = _positive_int(request, "page", 1)
    size = _positive_int(request, "size", DEFAULT_SIZE)
    if page is None:
        return error_response(400, "BAD_PARAMETER", "page must be an integer >= 1")
    if size is None or size > MAX_SIZE:
        return error_response(400, "BAD_PARAMETER", f"size must be an integer from 1 to {MAX_SIZE}")
    record = data.insured(card_no)
    if record is None:
        return _not_found(card_no)
    chunk = record.contributions[(page - 1) * size : page * size]
    return _ok(
        {
            "card_no": card_no,
            "total": len(record.contributions),
            "page": page,
            "size": size,
            "records": [
                {
                    "period": _ym(c.period),
                    "employer_name": c.employer_name,
                    "base": c.base_fen,
                    "personal_amount": c.personal_fen,
                    "employer_amount": c.employer_fen,
                    "paid_date": _ymd(c.paid_on),
                    "items": [
                        {
                            "insurance_code": i.code,
                            "personal_amount": i.personal_fen,
                            "employer_amount": i.employer_fen,
                        }
                        for i in c.items
                    ],
                }
                for c in chunk
            ],
        }
    )


# --- OpenAPI ---------------------------------------------------------------------------------

_YMD = {"type": "string", "pattern": "^[0-9]{8}$", "description": "YYYYMMDD"}
_FEN = {"type": "integer", "description": "integer fen (1/100 yuan)"}
_CODE = {
    "type": "string",
    "enum": list(data.INSURANCE_NAMES),
    "description": "YL 养老, YB 医保, SY 失业, GS 工伤, SYU 生育",
}


def _envelope(data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["errcode", "errmsg"],
        "properties": {
            "errcode": {"type": "integer", "description": "0 on success; 40401 not found (HTTP 200)"},
            "errmsg": {"type": "string"},
            "data": {"$ref": f"#/components/schemas/{data_ref}"},
        },
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_ERRORS = {
    "400": _json("#/components/schemas/Error", "bad query parameter (errcode 40001)"),
    "401": _json("#/components/schemas/Error", "missing or bad signature (errcode 40101)"),
    "503": _json("#/components/schemas/Error", "service unavailable (errcode 50301)"),
}
_CARD_NO = {
    "name": "card_no",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
    "description": "citizen card number (社会保障卡号)",
}
_HEADERS = ("X-Ca-Key", "X-Ca-Timestamp", "X-Ca-Nonce", "X-Ca-Signature")

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "厦门市社会保险管理中心 参保信息查询接口 (stand-in)",
        "version": "2.0",
        "description": "Insured person and contribution queries. Business errors answer HTTP 200 with a "
        "non-zero errcode. Requests are signed; see docs/agencies/social_security.md.",
    },
    "security": [{name: [] for name in _HEADERS}],
    "paths": {
        f"{PREFIX}/{{card_no}}": {
            "get": {
                "summary": "参保人信息: insurance types, status, medical account balance",
                "operationId": "getInsured",
                "parameters": [_CARD_NO],
                "responses": {
                    "200": _json("#/components/schemas/InsuredEnvelope", "ok or errcode 40401"),
                    **_ERRORS,
                },
            }
        },
        f"{PREFIX}/{{card_no}}/contributions": {
            "get": {
                "summary": "缴费明细: monthly contributions of the last 24 months, newest first",
                "operationId": "listContributions",
                "parameters": [
                    _CARD_NO,
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 1},
                    },
                    {
                        "name": "size",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_SIZE,
                            "default": DEFAULT_SIZE,
                        },
                    },
                ],
                "responses": {
                    "200": _json("#/components/schemas/ContributionsEnvelope", "ok or errcode 40401"),
                    **_ERRORS,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "X-Ca-Key": {"type": "apiKey", "in": "header", "name": "X-Ca-Key", "description": "app id"},
            "X-Ca-Timestamp": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Ca-Timestamp",
                "description": "unix seconds; within 300 s of the gateway's clock",
            },
            "X-Ca-Nonce": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Ca-Nonce",
                "description": "single use",
            },
            "X-Ca-Signature": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Ca-Signature",
                "description": "base64 HMAC-SHA256 over METHOD\\npath\\nsorted query\\ntimestamp\\nnonce\\n"
                "sha256-hex(body)",
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["errcode", "errmsg"],
                "properties": {"errcode": {"type": "integer"}, "errmsg": {"type": "string"}},
            },
            "InsuredEnvelope": _envelope("Insured"),
            "ContributionsEnvelope": _envelope("ContributionPage"),
            "Insured": {
                "type": "object",
                "required": [
                    "card_no",
                    "insured_status",
                    "medical_scheme",
                    "medical_account_balance",
                    "insurance_list",
                ],
                "properties": {
                    "card_no": {"type": "string"},
                    "name": {"type": "string"},
                    "insured_status": {"type": "string", "enum": list(data.INSURED_STATUS_NAMES)},
                    "insured_status_name": {"type": "string"},
                    "employer_name": {"type": ["string", "null"]},
                    "first_insured_date": _YMD,
                    "retire_date": {**_YMD, "type": ["string", "null"]},
                    "medical_scheme": {
                        "type": "string",
                        "enum": [data.SCHEME_EMPLOYEE, data.SCHEME_RESIDENT],
                    },
                    "medical_account_balance": _FEN,
                    "insurance_list": {"type": "array", "items": {"$ref": "#/components/schemas/Insurance"}},
                    "query_date": _YMD,
                },
            },
            "Insurance": {
                "type": "object",
                "required": ["insurance_code", "status"],
                "properties": {
                    "insurance_code": _CODE,
                    "insurance_name": {"type": "string"},
                    "status": {"type": "string", "enum": list(data.STATUS_NAMES)},
                    "status_name": {"type": "string"},
                    "start_date": _YMD,
                },
            },
            "ContributionPage": {
                "type": "object",
                "required": ["total", "page", "size", "records"],
                "properties": {
                    "card_no": {"type": "string"},
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "size": {"type": "integer"},
                    "records": {"type": "array", "items": {"$ref": "#/components/schemas/Contribution"}},
                },
            },
            "Contribution": {
                "type": "object",
                "required": ["period", "employer_name", "base", "personal_amount", "employer_amount"],
                "properties": {
                    "period": {"type": "string", "pattern": "^[0-9]{6}$", "description": "YYYYMM"},
                    "employer_name": {"type": "string"},
                    "base": _FEN,
                    "personal_amount": _FEN,
                    "employer_amount": _FEN,
                    "paid_date": _YMD,
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "insurance_code": _CODE,
                                "personal_amount": _FEN,
                                "employer_amount": _FEN,
                            },
                        },
                    },
                },
            },
        },
    },
}


def definition() -> AgencyDefinition:
    return AgencyDefinition(
        id=data.AGENCY,
        name="厦门市社会保险管理中心",
        routes=[
            web.get(PREFIX + "/{card_no}", insured_handler),
            web.get(PREFIX + "/{card_no}/contributions", contributions_handler),
        ],
        openapi=OPENAPI,
        auth=HmacChecker(credentials.SOCIAL_SECURITY_APP_ID, credentials.SOCIAL_SECURITY_HMAC_SECRET),
        error_response=error_response,
    )
