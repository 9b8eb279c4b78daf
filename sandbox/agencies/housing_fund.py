"""Stand-in for the Xiamen Housing Provident Fund Management Centre (厦门市住房公积金中心).

OAuth2 client credentials (``POST /connect/token``), camelCase JSON wrapped in
``{"success": ..., "data": ...}``, money as decimal strings, dates ``YYYY/MM/DD``, loans paged by an
opaque ``pageToken``. The wire contract is written up in docs/agencies/housing_fund.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date
from typing import Any

from aiohttp import web

from sandbox import credentials
from sandbox.agencies.housing_fund_data import (
    Account,
    Loan,
    account_for,
    format_fen,
)
from sandbox.agencies.housing_fund_openapi import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    OPENAPI,
    PREFIX,
    TOKEN_PATH,
    TOKEN_TTL_SECONDS,
)
from sandbox.app import AgencyDefinition
from sandbox.auth import ClientCredentialsIssuer

CARD_NO = re.compile(r"^\d{12}$")


def error_response(status: int, code: str, message: str) -> web.Response:
    response = web.json_response({"success": False, "errorCode": code, "errorMsg": message}, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gjj"'
    return response


def _ok(data: object) -> web.Response:
    return web.json_response({"success": True, "data": data}, dumps=_dumps)


def _dumps(obj: object) -> str:
    # Keep names such as 郑𠮷 readable on the wire, as the centre's gateway does.
    return json.dumps(obj, ensure_ascii=False)


def _day(value: date | None) -> str | None:
    return None if value is None else value.strftime("%Y/%m/%d")


def _account_json(account: Account) -> dict[str, Any]:
    employer = account.employer
    return {
        "accountNo": account.account_no,
        "cardNo": account.card_no,
        "holderName": account.holder_name,
        "accountStatus": account.status,
        "balance": format_fen(account.balance_fen),
        "depositBase": format_fen(account.deposit_base_fen),
        "depositRate": f"{account.deposit_rate:.2f}",
        "monthlyDeposit": {
            "personal": format_fen(account.personal_deposit_fen),
            "employer": format_fen(account.employer_deposit_fen),
        },
        "employer": None
        if employer is None
        else {"unitNo": employer.unit_no, "unitName": employer.unit_name, "since": _day(employer.since)},
        "openedDate": _day(account.opened),
        "lastDepositDate": _day(account.last_deposit),
        "sealedDate": _day(account.sealed),
    }


def _loan_json(loan: Loan) -> dict[str, Any]:
    return {
        "loanNo": loan.loan_no,
        "loanAmount": format_fen(loan.principal_fen),
        "outstandingPrincipal": format_fen(loan.outstanding_fen),
        "monthlyRepayment": format_fen(loan.monthly_repayment_fen),
        "termMonths": loan.term_months,
        "startDate": _day(loan.start),
        "endDate": _day(loan.end),
        "loanStatus": loan.status,
    }


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message)


def _account(request: web.Request) -> Account:
    card_no = request.match_info["cardNo"]
    if not CARD_NO.match(card_no):
        raise _Refusal(400, "INVALID_PARAMETER", "cardNo must be the 12-digit citizen card number")
    account = account_for(card_no)
    if account is None:
        raise _Refusal(404, "ACCOUNT_NOT_FOUND", f"no housing provident fund account for card {card_no}")
    return account


def encode_page_token(card_no: str, offset: int) -> str:
    raw = json.dumps({"c": card_no, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, card_no: str, total: int) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = payload["o"]
        valid = payload["c"] == card_no and isinstance(offset, int) and 0 < offset < total
    except (ValueError, binascii.Error, KeyError, TypeError):
        valid = False
    if not valid:
        raise _Refusal(400, "INVALID_PAGE_TOKEN", "pageToken was not issued for this account's loan list")
    return int(offset)


def _page_size(request: web.Request) -> int:
    raw = request.query.get("pageSize", str(DEFAULT_PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise _Refusal(400, "INVALID_PARAMETER", f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


async def get_account(request: web.Request) -> web.Response:
    try:
        return _ok(_account_json(_account(request)))
    except _Refusal as refusal:
        return refusal.response


async def get_loans(request: web.Request) -> web.Response:
    try:
        account = _account(request)
        size = _page_size(request)
        token = request.query.get("pageToken", "")
        offset = _decode_page_token(token, account.card_no, len(account.loans)) if token else 0
    except _Refusal as refusal:
        return refusal.response
    end = offset + size
    page = account.loans[offset:end]
    next_token = encode_page_token(account.card_no, end) if end < len(account.loans) else None
    return _ok({"loans": [_loan_json(loan) for loan in page], "nextPageToken": next_token})


async def not_found(request: web.Request) -> web.Response:
    return error_response(404, "RESOURCE_NOT_FOUND", f"no such resource: {request.path}")


def definition() -> AgencyDefinition:
    issuer = ClientCredentialsIssuer(
        client_id=credentials.HOUSING_FUND_CLIENT_ID,
        client_secret=credentials.HOUSING_FUND_CLIENT_SECRET,
        ttl=TOKEN_TTL_SECONDS,
    )
    return AgencyDefinition(
        id="housing_fund",
        name="厦门市住房公积金中心",
        routes=[
            web.post(TOKEN_PATH, issuer.token_endpoint),
            web.get(f"{PREFIX}/accounts/{{cardNo}}", get_account),
            web.get(f"{PREFIX}/accounts/{{cardNo}}/loans", get_loans),
            # Last, so only paths nothing else serves get the centre's own 404 body.
            web.get("/gjj/{tail:.*}", not_found),
        ],
        openapi=OPENAPI,
        auth=issuer,
        error_response=error_response,
        public_paths=frozenset({TOKEN_PATH}),
    )
