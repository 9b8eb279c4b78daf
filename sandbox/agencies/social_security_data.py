"""The Social Security Bureau's records, from each persona's traits and ``rng(persona, "social_security")``.

Everything is integer fen and ``date``; the HTTP layer renders the bureau's wire format. Dates are
relative to ``sandbox.clock.today()``. Who is in which situation, in order of precedence:

- ``NO_SOCIAL_SECURITY``: no record at all.
- retired (``SENIOR``, or no employer and past the statutory age): pension and medical benefits,
  no contributions in the 24-month window.
- ``UNEMPLOYED``: pension and medical suspended, unemployment benefit being paid; contributions with
  ``previous_employer`` stop 3-6 months before the latest period.
- employed: all five insurances; ``EMPLOYER_CHANGE`` switches from ``previous_employer`` to
  ``employer`` in the most recent June.
- anyone else (``STUDENT``, no employer): resident medical insurance only, which has no personal
  account and no monthly contributions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from sandbox import clock
from sandbox.personas import (
    EMPLOYER_CHANGE,
    MEDICAL_ZERO_BALANCE,
    NO_SOCIAL_SECURITY,
    SENIOR,
    UNEMPLOYED,
    Persona,
    find,
    rng,
)

AGENCY = "social_security"
WINDOW_MONTHS = 24  # the bureau only serves the last two years of contributions online
RETIREMENT_AGE = 60  # one statutory age for everyone: a simplification, documented
SWITCH_MONTH = 6  # EMPLOYER_CHANGE: the new employer pays from June
PAID_DAY = 15  # contributions are collected on the 15th of the period month
SYSTEM_START = date(1993, 1, 1)  # older records were never migrated into the current system

# Insurance codes (险种) and their names.
PENSION, MEDICAL, UNEMPLOYMENT, WORK_INJURY, MATERNITY = "YL", "YB", "SY", "GS", "SYU"
INSURANCE_NAMES = {
    PENSION: "企业职工基本养老保险",
    MEDICAL: "职工基本医疗保险",
    UNEMPLOYMENT: "失业保险",
    WORK_INJURY: "工伤保险",
    MATERNITY: "生育保险",
}
RESIDENT_MEDICAL_NAME = "城乡居民基本医疗保险"

# Per-insurance status (参保状态) and the citizen's overall status.
PAYING, SUSPENDED, RECEIVING = "1", "2", "3"
STATUS_NAMES = {PAYING: "参保缴费", SUSPENDED: "暂停缴费", RECEIVING: "享受待遇"}
INSURED_ACTIVE, INSURED_SUSPENDED, INSURED_RETIRED = "1", "2", "3"
INSURED_STATUS_NAMES = {INSURED_ACTIVE: "正常参保", INSURED_SUSPENDED: "中断缴费", INSURED_RETIRED: "退休"}
SCHEME_EMPLOYEE, SCHEME_RESIDENT = "ZG", "JM"  # 职工医保 / 居民医保

# Rates in basis points of the base: (personal, employer). A base is a whole multiple of 100 yuan,
# so every part comes out in whole fen with no rounding at all.
RATES_BP: dict[str, tuple[int, int]] = {
    PENSION: (800, 1600),
    MEDICAL: (200, 800),
    UNEMPLOYMENT: (50, 50),
    WORK_INJURY: (0, 20),
    MATERNITY: (0, 70),
}
BASE_STEP_FEN = 100_00


@dataclass(frozen=True, slots=True)
class Insurance:
    code: str
    name: str
    status: str
    start: date


@dataclass(frozen=True, slots=True)
class ContributionItem:
    code: str
    personal_fen: int
    employer_fen: int


@dataclass(frozen=True, slots=True)
class Contribution:
    period: date  # first day of the month
    employer_name: str
    base_fen: int
    items: tuple[ContributionItem, ...]

    @property
    def personal_fen(self) -> int:
        return sum(i.personal_fen for i in self.items)

    @property
    def employer_fen(self) -> int:
        return sum(i.employer_fen for i in self.items)

    @property
    def paid_on(self) -> date:
        return self.period.replace(day=PAID_DAY)


@dataclass(frozen=True, slots=True)
class Insured:
    persona: Persona
    status: str
    employer_name: str | None
    medical_scheme: str
    first_insured: date
    retire_date: date | None
    medical_balance_fen: int
    insurances: tuple[Insurance, ...]
    contributions: tuple[Contribution, ...]  # newest first


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def latest_period(today: date | None = None) -> date:
    """The newest period on record: last month (a month is posted once it has closed)."""
    return add_months((today or clock.today()).replace(day=1), -1)


def switch_period(latest: date) -> date:
    """EMPLOYER_CHANGE: the most recent June at or before ``latest``."""
    year = latest.year if latest.month >= SWITCH_MONTH else latest.year - 1
    return date(year, SWITCH_MONTH, 1)


def _birthday(persona: Persona, age: int) -> date:
    born = persona.birth_date
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # born on 29 February
        return date(born.year + age, 3, 1)


def contribution(period: date, employer_name: str, base_fen: int) -> Contribution:
    items = tuple(
        ContributionItem(code, base_fen * personal // 10_000, base_fen * employer // 10_000)
        for code, (personal, employer) in RATES_BP.items()
    )
    return Contribution(period, employer_name, base_fen, items)


def insured(card_number: str) -> Insured | None:
    persona = find(card_number)
    if persona is None or persona.has(NO_SOCIAL_SECURITY):
        return None
    return _insured(persona, clock.today())


@functools.lru_cache(maxsize=256)  # deterministic per (persona, day): derive once
def _insured(persona: Persona, today: date) -> Insured:
    r = rng(persona, AGENCY)
    # Draw everything up front, in a fixed order, so each value is stable whatever branch applies.
    start_delay_months = r.randint(0, 24)
    previous_base = r.randint(45, 250) * BASE_STEP_FEN
    current_base = r.randint(45, 250) * BASE_STEP_FEN
    balance = r.randint(200_00, 20_000_00)
    stopped_months_ago = r.randint(3, 6)

    first_insured = max(SYSTEM_START, add_months(_birthday(persona, 20).replace(day=1), start_delay_months))
    latest = latest_period(today)
    window = [add_months(latest, -i) for i in range(WINDOW_MONTHS)]
    retire_date = _birthday(persona, RETIREMENT_AGE)
    zero = persona.has(MEDICAL_ZERO_BALANCE)

    def cover(status: str, *codes: str) -> tuple[Insurance, ...]:
        return tuple(Insurance(c, INSURANCE_NAMES[c], status, first_insured) for c in codes)

    if persona.has(SENIOR) or (persona.employer is None and retire_date <= today):
        return Insured(
            persona=persona,
            status=INSURED_RETIRED,
            employer_name=None,
            medical_scheme=SCHEME_EMPLOYEE,
            first_insured=first_insured,
            retire_date=retire_date,
            medical_balance_fen=0 if zero else balance,
            insurances=cover(RECEIVING, PENSION, MEDICAL),
            contributions=(),
        )
    if persona.has(UNEMPLOYED):
        last_paid = add_months(latest, -stopped_months_ago)
        employer = persona.previous_employer or "原参保单位"
        return Insured(
            persona=persona,
            status=INSURED_SUSPENDED,
            employer_name=None,
            medical_scheme=SCHEME_EMPLOYEE,
            first_insured=first_insured,
            retire_date=None,
            medical_balance_fen=0 if zero else balance,
            insurances=(*cover(SUSPENDED, PENSION, MEDICAL), *cover(RECEIVING, UNEMPLOYMENT)),
            contributions=tuple(
                contribution(p, employer, previous_base) for p in window if first_insured <= p <= last_paid
            ),
        )
    if persona.employer is not None:
        switch = switch_period(latest)
        current = persona.employer
        previous = persona.previous_employer if persona.has(EMPLOYER_CHANGE) else None

        def paid_by(period: date) -> tuple[str, int]:
            if previous is not None and period < switch:
                return previous, previous_base
            return current, current_base

        return Insured(
            persona=persona,
            status=INSURED_ACTIVE,
            employer_name=persona.employer,
            medical_scheme=SCHEME_EMPLOYEE,
            first_insured=first_insured,
            retire_date=None,
            medical_balance_fen=0 if zero else balance,
            insurances=cover(PAYING, *INSURANCE_NAMES),
            contributions=tuple(contribution(p, *paid_by(p)) for p in window if p >= first_insured),
        )
    # Resident medical insurance is paid once a year and has no personal account.
    resident_since = _birthday(persona, 0).replace(day=1)
    return Insured(
        persona=persona,
        status=INSURED_ACTIVE,
        employer_name=None,
        medical_scheme=SCHEME_RESIDENT,
        first_insured=resident_since,
        retire_date=None,
        medical_balance_fen=0,
        insurances=(Insurance(MEDICAL, RESIDENT_MEDICAL_NAME, PAYING, resident_since),),
        contributions=(),
    )
