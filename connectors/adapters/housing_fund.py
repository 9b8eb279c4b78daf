"""Xiamen Housing Provident Fund Management Centre (厦门市住房公积金中心) -> ``HousingFund``.

Wire format: docs/agencies/housing_fund.md. Bodies are ``{"success": true, "data": ...}``, money is a
decimal string in yuan, dates are ``YYYY/MM/DD``, loans come in pages chained by ``nextPageToken``.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar
from urllib.parse import quote

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import HousingFund, HousingLoan, LoanStatus
from connectors.errors import AgencyBadResponse
from connectors.formats import date_from, money_from_decimal_string, require, require_list, require_str

DATE_FORMAT = "%Y/%m/%d"
NOT_FOUND_CODE = "ACCOUNT_NOT_FOUND"

LOAN_STATUSES: dict[str, LoanStatus] = {
    "REPAYING": LoanStatus.ACTIVE,
    "SETTLED": LoanStatus.PAID_OFF,
    "IN_ARREARS": LoanStatus.OVERDUE,
}


class HousingFundConnector(Connector):
    agency: ClassVar[str] = "housing_fund"
    name: ClassVar[str] = "厦门市住房公积金中心"
    page_size: int = 50  # the centre's maximum; an instance may lower it (tests walk pages this way)

    async def fetch(self, card_number: str) -> HousingFund | None:
        path = f"/gjj/openapi/accounts/{quote(card_number, safe='')}"
        account, loans = await gather_or_cancel(self._data(path, {}, "account"), self._loans(path + "/loans"))
        if account is None:
            return None
        if loans is None:
            raise AgencyBadResponse(self.agency, "account found but its loans answered ACCOUNT_NOT_FOUND")
        return self.mapped("account", partial(self._fund, account, loans))

    def _fund(self, data: object, loans: tuple[HousingLoan, ...]) -> HousingFund:
        deposit = require(data, "monthlyDeposit")
        employer = require(data, "employer")
        return HousingFund(
            account_number=require_str(data, "accountNo"),
            balance=money_from_decimal_string(require(data, "balance")),
            # The centre reports the two halves; the card shows what goes in each month.
            monthly_deposit=money_from_decimal_string(require(deposit, "personal"))
            + money_from_decimal_string(require(deposit, "employer")),
            employer=None if employer is None else require_str(employer, "unitName"),
            loans=loans,
            meta=self.meta(),
        )

    async def _loans(self, path: str) -> tuple[HousingLoan, ...] | None:
        loans: list[HousingLoan] = []
        seen: set[str] = set()
        token: str | None = None
        while len(loans) < MAX_ITEMS:
            params: dict[str, str | int] = {"pageSize": self.page_size}
            if token is not None:
                params["pageToken"] = token
            data = await self._data(path, params, "loan page")
            if data is None:
                return None
            page, token = self.mapped("loan page", partial(_loan_page, data))
            loans.extend(page)
            if token is None:
                break
            if token in seen:
                raise AgencyBadResponse(self.agency, "loan pages loop: nextPageToken repeated")
            seen.add(token)
        loans.sort(key=lambda loan: loan.start_date, reverse=True)
        return tuple(loans[:MAX_ITEMS])

    async def _data(self, path: str, params: dict[str, str | int], what: str) -> object | None:
        """The ``data`` of a success body; None when the centre has no account for the card."""
        response = await self.client.get(path, params)
        body = response.body
        if response.status == 404 and isinstance(body, dict) and body.get("errorCode") == NOT_FOUND_CODE:
            return None
        if response.status != 200:
            raise self.unexpected(response, what)
        return self.mapped(what, partial(_success_data, body))


def _success_data(body: object) -> object:
    if require(body, "success") is not True:
        raise ValueError("success is not true")
    return require(body, "data")


def _loan_page(data: object) -> tuple[list[HousingLoan], str | None]:
    token = require(data, "nextPageToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError(f"nextPageToken should be a non-empty string or null, got {token!r}")
    return [loan_from_wire(raw) for raw in require_list(data, "loans")], token


def loan_from_wire(raw: object) -> HousingLoan:
    status = require_str(raw, "loanStatus")
    if status not in LOAN_STATUSES:
        raise ValueError(f"unknown loanStatus {status!r}")
    return HousingLoan(
        loan_number=require_str(raw, "loanNo"),
        principal=money_from_decimal_string(require(raw, "loanAmount")),
        outstanding=money_from_decimal_string(require(raw, "outstandingPrincipal")),
        monthly_repayment=money_from_decimal_string(require(raw, "monthlyRepayment")),
        start_date=date_from(require(raw, "startDate"), DATE_FORMAT),
        end_date=date_from(require(raw, "endDate"), DATE_FORMAT),
        status=LOAN_STATUSES[status],
    )
