from __future__ import annotations

import strawberry

from connectors import domain
from schema.context import Info
from schema.pagination import Page, paginate
from schema.types.common import Money, SectionMeta, money

strawberry.enum(domain.InsuranceType)


@strawberry.type
class Contribution:
    period: str = strawberry.field(description="Month, `YYYY-MM`.")
    employer: str
    base: Money
    personal_amount: Money
    employer_amount: Money

    @classmethod
    def from_domain(cls, c: domain.Contribution) -> Contribution:
        return cls(
            period=c.period,
            employer=c.employer,
            base=money(c.base),
            personal_amount=money(c.personal_amount),
            employer_amount=money(c.employer_amount),
        )


@strawberry.type(description="Social insurance at the Social Security Bureau. Scope `social_security`.")
class SocialSecuritySection:
    insurance_types: list[domain.InsuranceType]
    medical_account_balance: Money
    meta: SectionMeta
    _contributions: strawberry.Private[tuple[domain.Contribution, ...]]

    @strawberry.field(description="Monthly contributions, newest first.")
    def contributions(self, info: Info, first: int | None = None, after: str | None = None) -> Page[Contribution]:
        return paginate(info, self._contributions, Contribution.from_domain, first, after)

    @classmethod
    def from_domain(cls, s: domain.SocialSecurity) -> SocialSecuritySection:
        return cls(
            insurance_types=list(s.insurance_types),
            medical_account_balance=money(s.medical_account_balance),
            meta=SectionMeta.from_domain(s.meta),
            _contributions=s.contributions,
        )
