"""The housing fund centre's records, derived from each persona's traits and ``rng(persona, "housing_fund")``.

Amounts are integer fen here so nothing is ever rounded twice; the HTTP layer renders them as the
centre's decimal strings. Dates are relative to ``sandbox.clock.today()``.
"""

from __future__ import annotations

import functools
import random
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sandbox import clock
from sandbox.personas import (
    EMPLOYER_CHANGE,
    HOUSING_LOAN,
    HOUSING_NEGATIVE_BALANCE,
    NO_HOUSING_FUND,
    UNEMPLOYED,
    Persona,
    find,
    rng,
)

AGENCY = "housing_fund"

# The centre's own words.
ACCOUNT_NORMAL = "NORMAL"  # 正常缴存
ACCOUNT_SEALED = "SEALED"  # 封存: no employer is paying in
LOAN_REPAYING = "REPAYING"
LOAN_SETTLED = "SETTLED"
LOAN_IN_ARREARS = "IN_ARREARS"  # part of the vocabulary; no persona's traits call for it

# Provident-fund loan rate for terms over five years; fixed here so the schedule is reproducible.
LOAN_ANNUAL_RATE = Decimal("0.0285")
DEPOSIT_DAY = 15  # employers pay in on the 15th


@dataclass(frozen=True, slots=True)
class Employer:
    unit_no: str
    unit_name: str
    since: date


@dataclass(frozen=True, slots=True)
class Loan:
    loan_no: str
    principal_fen: int
    outstanding_fen: int
    monthly_repayment_fen: int
    term_months: int
    start: date
    end: date
    status: str


@dataclass(frozen=True, slots=True)
class Account:
    card_no: str
    account_no: str
    holder_name: str
    status: str
    balance_fen: int
    deposit_base_fen: int
    deposit_rate: Decimal  # the same rate applies to the personal and the employer part
    personal_deposit_fen: int
    employer_deposit_fen: int
    employer: Employer | None
    opened: date
    last_deposit: date
    sealed: date | None
    loans: tuple[Loan, ...]  # newest first


def add_months(day: date, months: int) -> date:
    """Same day of month ``months`` later (callers keep day <= 28, so it always exists)."""
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def months_between(start: date, end: date) -> int:
    """Whole monthly anniversaries of ``start`` reached by ``end``."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_fen(amount: int) -> str:
    """12345 -> "123.45"; -120000 -> "-1200.00"."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def unit_no(employer: str) -> str:
    # Stable per employer across personas (and processes), unlike Python's salted hash().
    return f"3502{zlib.crc32(employer.encode()) % 10**8:08d}"


def annuity_fen(principal_fen: int, term_months: int) -> int:
    """Equal monthly instalment (等额本息) for the principal over the term."""
    r = LOAN_ANNUAL_RATE / 12
    growth = (1 + r) ** term_months
    return fen(Decimal(principal_fen) / 100 * r * growth / (growth - 1))


def outstanding_fen(principal_fen: int, instalment_fen: int, paid_months: int) -> int:
    r = LOAN_ANNUAL_RATE / 12
    growth = (1 + r) ** paid_months
    remaining = Decimal(principal_fen) / 100 * growth - Decimal(instalment_fen) / 100 * (growth - 1) / r
    return max(0, fen(remaining))


def account_for(card_no: str) -> Account | None:
    persona = find(card_no)
    if persona is None or persona.has(NO_HOUSING_FUND):
        return None
    return _derive(persona, clock.today())


@functools.lru_cache(maxsize=256)  # deterministic per (persona, day): derive once
def _derive(persona: Persona, today: date) -> Account:
    r = rng(persona, AGENCY)
    this_month = today.replace(day=1)
    opened_year = max(persona.birth_date.year + 22, today.year - r.randint(3, 15))
    opened = min(date(opened_year, r.randint(1, 12), 1), add_months(this_month, -12))
    base_fen = r.randrange(3_000, 28_000, 100) * 100
    rate = Decimal(r.randint(5, 12)) / 100
    part_fen = fen((Decimal(base_fen) / 100 * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    balance_fen = r.randrange(8_000_00, 180_000_00)
    latest_deposit = this_month.replace(day=DEPOSIT_DAY)
    if today.day < DEPOSIT_DAY:
        latest_deposit = add_months(latest_deposit, -1)

    employer: Employer | None = None
    sealed: date | None = None
    status = ACCOUNT_NORMAL
    personal_fen = employer_fen = part_fen
    last_deposit = latest_deposit
    if persona.has(UNEMPLOYED) or persona.employer is None:
        # Contributions stopped when the job ended; the account is sealed but keeps its balance.
        sealed = add_months(this_month, -r.randint(3, 7))
        last_deposit = add_months(sealed, -1).replace(day=DEPOSIT_DAY)
        status = ACCOUNT_SEALED
        personal_fen = employer_fen = 0
    else:
        since = opened
        if persona.has(EMPLOYER_CHANGE):
            # The account moved to the new employer a few months ago (转移); only the new one pays in.
            since = add_months(this_month, -r.randint(3, 6))
        employer = Employer(unit_no=unit_no(persona.employer), unit_name=persona.employer, since=since)
    if persona.has(HOUSING_NEGATIVE_BALANCE):
        # A withdrawal correction took back more than the account held.
        balance_fen = -r.randrange(500_00, 3_000_00)

    loans = _loans(r, today) if persona.has(HOUSING_LOAN) else ()
    return Account(
        card_no=persona.card_number,
        account_no=f"3502{r.randrange(10**11, 10**12)}",
        holder_name=persona.name,
        status=status,
        balance_fen=balance_fen,
        deposit_base_fen=base_fen,
        deposit_rate=rate,
        personal_deposit_fen=personal_fen,
        employer_deposit_fen=employer_fen,
        employer=employer,
        opened=opened,
        last_deposit=last_deposit,
        sealed=sealed,
        loans=loans,
    )


def _loans(r: random.Random, today: date) -> tuple[Loan, ...]:
    """One loan being repaid; for some, an older one settled before it was taken out."""
    term = r.choice((240, 300, 360))
    start = add_months(today.replace(day=1), -r.randint(12, 96)).replace(day=r.randint(1, 28))
    principal = r.randrange(300_000, 1_200_001, 10_000) * 100
    instalment = annuity_fen(principal, term)
    paid = months_between(start, today)
    active = Loan(
        loan_no=f"XMGJJ{start.year}{r.randrange(10**7, 10**8)}",
        principal_fen=principal,
        outstanding_fen=outstanding_fen(principal, instalment, paid),
        monthly_repayment_fen=instalment,
        term_months=term,
        start=start,
        end=add_months(start, term),
        status=LOAN_REPAYING,
    )
    if r.random() < 0.5:
        return (active,)
    old_term = r.choice((60, 120))
    old_start = add_months(start, -(old_term + r.randint(6, 36))).replace(day=r.randint(1, 28))
    old_principal = r.randrange(100_000, 400_001, 10_000) * 100
    settled = Loan(
        loan_no=f"XMGJJ{old_start.year}{r.randrange(10**7, 10**8)}",
        principal_fen=old_principal,
        outstanding_fen=0,
        monthly_repayment_fen=annuity_fen(old_principal, old_term),
        term_months=old_term,
        start=old_start,
        end=add_months(old_start, old_term),
        status=LOAN_SETTLED,
    )
    return (active, settled)
