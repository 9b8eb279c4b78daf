from __future__ import annotations

from datetime import date

import strawberry

from connectors import domain
from schema.context import Info
from schema.pagination import Page, paginate
from schema.types.common import Money, SectionMeta, money

strawberry.enum(domain.LoanStatus)


@strawberry.type
class HousingLoan:
    loan_number: str
    principal: Money
    outstanding: Money
    monthly_repayment: Money
    start_date: date
    end_date: date
    status: domain.LoanStatus

    @classmethod
    def from_domain(cls, loan: domain.HousingLoan) -> HousingLoan:
        return cls(
            loan_number=loan.loan_number,
            principal=money(loan.principal),
            outstanding=money(loan.outstanding),
            monthly_repayment=money(loan.monthly_repayment),
            start_date=loan.start_date,
            end_date=loan.end_date,
            status=loan.status,
        )


@strawberry.type(description="The housing provident fund account. Scope `housing_fund` (sensitive).")
class HousingFundSection:
    account_number: str
    balance: Money
    monthly_deposit: Money = strawberry.field(description="Personal plus employer part.")
    employer: str | None = strawberry.field(description="Null when not currently employed.")
    meta: SectionMeta
    _loans: strawberry.Private[tuple[domain.HousingLoan, ...]]

    @strawberry.field(description="Provident fund housing loans.")
    def loans(self, info: Info, first: int | None = None, after: str | None = None) -> Page[HousingLoan]:
        return paginate(info, self._loans, HousingLoan.from_domain, first, after)

    @classmethod
    def from_domain(cls, h: domain.HousingFund) -> HousingFundSection:
        return cls(
            account_number=h.account_number,
            balance=money(h.balance),
            monthly_deposit=money(h.monthly_deposit),
            employer=h.employer,
            meta=SectionMeta.from_domain(h.meta),
            _loans=h.loans,
        )
