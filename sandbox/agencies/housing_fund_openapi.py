"""The housing fund centre's OpenAPI 3.1 document and the wire constants it describes."""

from __future__ import annotations

from typing import Any

from sandbox.agencies.housing_fund_data import (
    ACCOUNT_NORMAL,
    ACCOUNT_SEALED,
    LOAN_IN_ARREARS,
    LOAN_REPAYING,
    LOAN_SETTLED,
)

PREFIX = "/gjj/openapi"
TOKEN_PATH = "/connect/token"
TOKEN_TTL_SECONDS = 600
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


def _money(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": r"^-?\d+\.\d{2}$",
        "description": description,
        "examples": ["12345.67"],
    }


def _day_schema(description: str, nullable: bool = False) -> dict[str, Any]:
    return {
        "type": ["string", "null"] if nullable else "string",
        "pattern": r"^\d{4}/\d{2}/\d{2}$",
        "description": description,
        "examples": ["2024/06/01"],
    }


def _success(data_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": {"$ref": data_ref}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = {"$ref": "#/components/schemas/Error"}
_CARD_PARAM = {
    "name": "cardNo",
    "in": "path",
    "required": True,
    "description": "Citizen card number",
    "schema": {"type": "string", "pattern": r"^\d{12}$"},
}
_ERRORS = {
    "400": _json(_ERROR, "Malformed cardNo, pageSize or pageToken (INVALID_PARAMETER, INVALID_PAGE_TOKEN)"),
    "401": _json(_ERROR, "Missing, invalid or expired bearer token (UNAUTHORIZED)"),
    "404": _json(_ERROR, "The card has no housing provident fund account (ACCOUNT_NOT_FOUND)"),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "厦门市住房公积金中心 open API (sandbox)",
        "version": "1.0.0",
        "description": "Housing provident fund account and loans by citizen card number. "
        "Money is a decimal string in yuan; dates are YYYY/MM/DD.",
    },
    "security": [{"clientCredentials": []}],
    "paths": {
        TOKEN_PATH: {
            "post": {
                "summary": "OAuth2 client credentials token (RFC 6749 section 4.4)",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"const": "client_credentials"},
                                    "client_id": {"type": "string"},
                                    "client_secret": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Token"}, "Bearer token"),
                    "400": _json({"$ref": "#/components/schemas/OAuthError"}, "unsupported_grant_type"),
                    "401": _json({"$ref": "#/components/schemas/OAuthError"}, "invalid_client"),
                },
            }
        },
        f"{PREFIX}/accounts/{{cardNo}}": {
            "get": {
                "summary": "Account: balance, monthly deposit, current employer, status",
                "parameters": [_CARD_PARAM],
                "responses": {
                    "200": _json(_success("#/components/schemas/Account"), "The account"),
                    **_ERRORS,
                },
            }
        },
        f"{PREFIX}/accounts/{{cardNo}}/loans": {
            "get": {
                "summary": "Housing loans, newest first, paged by token",
                "parameters": [
                    _CARD_PARAM,
                    {
                        "name": "pageSize",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                        "description": f"Loans per page (default {DEFAULT_PAGE_SIZE})",
                    },
                    {
                        "name": "pageToken",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "nextPageToken of the previous page; omit for the first page",
                    },
                ],
                "responses": {"200": _json(_success("#/components/schemas/LoanPage"), "One page"), **_ERRORS},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "clientCredentials": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": {}}},
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["success", "errorCode", "errorMsg"],
                "properties": {
                    "success": {"const": False},
                    "errorCode": {"type": "string", "examples": ["ACCOUNT_NOT_FOUND"]},
                    "errorMsg": {"type": "string"},
                },
            },
            "OAuthError": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "Token": {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"const": "Bearer"},
                    "expires_in": {"type": "integer", "examples": [TOKEN_TTL_SECONDS]},
                },
            },
            "Employer": {
                "type": ["object", "null"],
                "required": ["unitNo", "unitName", "since"],
                "properties": {
                    "unitNo": {"type": "string", "description": "单位账号"},
                    "unitName": {"type": "string"},
                    "since": _day_schema("Date the account joined this employer"),
                },
            },
            "Account": {
                "type": "object",
                "required": ["accountNo", "balance", "monthlyDeposit", "employer", "accountStatus"],
                "properties": {
                    "accountNo": {"type": "string"},
                    "cardNo": {"type": "string"},
                    "holderName": {"type": "string"},
                    "accountStatus": {
                        "enum": [ACCOUNT_NORMAL, ACCOUNT_SEALED],
                        "description": "NORMAL 正常缴存; SEALED 封存 (no employer paying in)",
                    },
                    "balance": _money("May be negative after a withdrawal correction"),
                    "depositBase": _money("Monthly deposit base (缴存基数)"),
                    "depositRate": {
                        "type": "string",
                        "examples": ["0.12"],
                        "description": "Each side's rate",
                    },
                    "monthlyDeposit": {
                        "type": "object",
                        "required": ["personal", "employer"],
                        "description": "This month's deposit; both parts 0.00 when SEALED",
                        "properties": {
                            "personal": _money("Personal part"),
                            "employer": _money("Employer part"),
                        },
                    },
                    "employer": {"$ref": "#/components/schemas/Employer"},
                    "openedDate": _day_schema("First deposit"),
                    "lastDepositDate": _day_schema("Latest deposit"),
                    "sealedDate": _day_schema("When the account was sealed", nullable=True),
                },
            },
            "Loan": {
                "type": "object",
                "required": [
                    "loanNo",
                    "loanAmount",
                    "outstandingPrincipal",
                    "monthlyRepayment",
                    "startDate",
                    "endDate",
                    "loanStatus",
                ],
                "properties": {
                    "loanNo": {"type": "string"},
                    "loanAmount": _money("Principal lent"),
                    "outstandingPrincipal": _money("Principal still owed; 0.00 when SETTLED"),
                    "monthlyRepayment": _money("Equal monthly instalment"),
                    "termMonths": {"type": "integer"},
                    "startDate": _day_schema("Disbursement date"),
                    "endDate": _day_schema("Contractual end date"),
                    "loanStatus": {"enum": [LOAN_REPAYING, LOAN_SETTLED, LOAN_IN_ARREARS]},
                },
            },
            "LoanPage": {
                "type": "object",
                "required": ["loans", "nextPageToken"],
                "properties": {
                    "loans": {"type": "array", "items": {"$ref": "#/components/schemas/Loan"}},
                    "nextPageToken": {"type": ["string", "null"], "description": "null on the last page"},
                },
            },
        },
    },
}
