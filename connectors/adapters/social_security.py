"""Social Security Bureau (厦门市社会保险管理中心): insured record plus paged monthly contributions.

The bureau answers business errors with HTTP 200 and a non-zero ``errcode``, so every answer's
errcode is checked, not only its status. Money is integer fen, periods ``YYYYMM``.
Wire API: docs/agencies/social_security.md. Requests are HMAC-signed by ``HmacAuth``.
"""

from __future__ import annotations

import math
from typing import Any

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import Contribution, InsuranceType, SocialSecurity
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyUnavailable
from connectors.formats import date_from, money_from_fen, require, require_list, require_str

Data = dict[str, Any]

ERR_OK = 0
ERR_NOT_FOUND = 40401
MAX_PAGE_SIZE = 50

INSURANCE_CODES = {
    "YL": InsuranceType.PENSION,
    "YB": InsuranceType.MEDICAL,
    "SY": InsuranceType.UNEMPLOYMENT,
    "GS": InsuranceType.WORK_INJURY,
    "SYU": InsuranceType.MATERNITY,
}


class SocialSecurityConnector(Connector):
    agency = "social_security"
    name = "厦门市社会保险管理中心"

    # Instance-overridable so tests can force several pages out of a 24-month history.
    page_size: int = MAX_PAGE_SIZE
    max_items: int = MAX_ITEMS

    async def fetch(self, card_number: str) -> SocialSecurity | None:
        # Only digits can be a card number; anything else would also change the signed path.
        if not (card_number.isascii() and card_number.isdigit()):
            return None
        path = f"/si/api/v2/insured/{card_number}"
        insured, first = await gather_or_cancel(self._data(path, {}), self._page(path, 1))
        if insured is None:
            return None
        if first is None:
            raise AgencyBadResponse(self.agency, "contributions not found for an insured citizen")
        total = self.mapped("contribution total", lambda: _count(first, "total"))
        wanted = min(total, self.max_items)
        pages = await gather_or_cancel(*(self._page(path, p) for p in range(2, math.ceil(wanted / self.page_size) + 1)))
        if None in pages:
            raise AgencyBadResponse(self.agency, "contribution page vanished while paging")
        records = self.mapped(
            "contribution page",
            lambda: [r for page in [first, *pages] for r in require_list(page, "records")],
        )
        contributions = self.mapped("contribution", lambda: [_contribution(r) for r in records[:wanted]])
        return SocialSecurity(
            insurance_types=self.mapped("insurance list", lambda: _insurance_types(insured)),
            medical_account_balance=self.mapped(
                "medical account balance", lambda: money_from_fen(require(insured, "medical_account_balance"))
            ),
            contributions=tuple(sorted(contributions, key=lambda c: c.period, reverse=True)),
            meta=self.meta(),
        )

    async def _page(self, path: str, page: int) -> Data | None:
        return await self._data(f"{path}/contributions", {"page": page, "size": self.page_size})

    async def _data(self, path: str, params: dict[str, str | int]) -> Data | None:
        """The ``data`` of a successful answer; None for "not found"; typed errors for the rest."""
        response = await self.client.get(path, params)
        body = response.body
        errcode = body.get("errcode") if isinstance(body, dict) else None
        if type(errcode) is not int:
            raise self.unexpected(response, path)
        if errcode == ERR_NOT_FOUND and response.status == 200:
            return None
        if errcode != ERR_OK or response.status != 200:
            message = f"HTTP {response.status}, errcode {errcode}: {body.get('errmsg')}"
            # errcode is status*100+1; old back ends also report outages and auth trouble under HTTP 200.
            if errcode // 100 >= 500:
                raise AgencyUnavailable(self.agency, message)
            if errcode // 100 == 401:
                raise AgencyAuthFailed(self.agency, message)
            raise AgencyBadResponse(self.agency, message)
        data = body.get("data")
        if not isinstance(data, dict):
            raise AgencyBadResponse(self.agency, f"{path}: answer without a data object")
        return data


def _count(mapping: object, key: str) -> int:
    value = require(mapping, key)
    if type(value) is not int or value < 0:
        raise ValueError(f"field {key!r} should be a count, got {value!r}")
    return value


def _insurance_types(insured: Data) -> tuple[InsuranceType, ...]:
    found: dict[InsuranceType, None] = {}
    for item in require_list(insured, "insurance_list"):
        code = require_str(item, "insurance_code")
        # A code we do not know (e.g. a new long-term-care pilot) is the bureau's news, not an error.
        if code in INSURANCE_CODES:
            found[INSURANCE_CODES[code]] = None
    return tuple(found)


def _contribution(record: object) -> Contribution:
    period = require_str(record, "period")
    if len(period) != 6 or not period.isdigit():
        raise ValueError(f"period should be YYYYMM, got {period!r}")
    return Contribution(
        period=date_from(period, "%Y%m").strftime("%Y-%m"),
        employer=require_str(record, "employer_name"),
        base=money_from_fen(require(record, "base")),
        personal_amount=money_from_fen(require(record, "personal_amount")),
        employer_amount=money_from_fen(require(record, "employer_amount")),
    )
