"""The card profile's sections as the hub understands them, whatever the agency's wire format.

Adapters map each agency's payloads into these types; the schema maps these types to GraphQL.
Money is always ``Decimal`` yuan with two places (see ``connectors.formats``), never float.
Dates are ``date``; instants are timezone-aware ``datetime``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

AGENCY_IDS: tuple[str, ...] = ("social_security", "transit", "health", "housing_fund", "library")


@dataclass(frozen=True, slots=True)
class SectionMeta:
    source: str  # agency id the data came from
    fetched_at: datetime
    stale: bool = False  # served from the cache past its TTL because the agency failed (cache/sections.py)


# --- social security -------------------------------------------------------------------------


class InsuranceType(enum.Enum):
    PENSION = "PENSION"
    MEDICAL = "MEDICAL"
    UNEMPLOYMENT = "UNEMPLOYMENT"
    WORK_INJURY = "WORK_INJURY"
    MATERNITY = "MATERNITY"


@dataclass(frozen=True, slots=True)
class Contribution:
    period: str  # "YYYY-MM"
    employer: str
    base: Decimal  # contribution base (yuan)
    personal_amount: Decimal
    employer_amount: Decimal


@dataclass(frozen=True, slots=True)
class SocialSecurity:
    insurance_types: tuple[InsuranceType, ...]
    medical_account_balance: Decimal
    contributions: tuple[Contribution, ...]  # newest first
    meta: SectionMeta


# --- transit ----------------------------------------------------------------------------------


class Concession(enum.Enum):
    NONE = "NONE"
    SENIOR = "SENIOR"
    STUDENT = "STUDENT"
    DISABLED = "DISABLED"


class TripMode(enum.Enum):
    BUS = "BUS"
    METRO = "METRO"
    FERRY = "FERRY"


@dataclass(frozen=True, slots=True)
class Trip:
    at: datetime
    mode: TripMode
    line: str
    entry_stop: str
    exit_stop: str | None
    fare: Decimal


@dataclass(frozen=True, slots=True)
class Transit:
    card_number: str
    balance: Decimal  # may be zero or negative (overdraft allowed on e-tong cards)
    concession: Concession
    trips: tuple[Trip, ...]  # newest first
    meta: SectionMeta


# --- health -----------------------------------------------------------------------------------


class VisitKind(enum.Enum):
    OUTPATIENT = "OUTPATIENT"
    INPATIENT = "INPATIENT"
    EMERGENCY = "EMERGENCY"


@dataclass(frozen=True, slots=True)
class Visit:
    on: date
    facility: str
    department: str
    kind: VisitKind


@dataclass(frozen=True, slots=True)
class Vaccination:
    vaccine: str
    dose: int
    on: date


@dataclass(frozen=True, slots=True)
class Health:
    health_card_number: str
    registered_clinic: str | None
    visits: tuple[Visit, ...]  # newest first
    vaccinations: tuple[Vaccination, ...]  # newest first
    meta: SectionMeta


# --- housing provident fund -------------------------------------------------------------------


class LoanStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    PAID_OFF = "PAID_OFF"
    OVERDUE = "OVERDUE"


@dataclass(frozen=True, slots=True)
class HousingLoan:
    loan_number: str
    principal: Decimal
    outstanding: Decimal
    monthly_repayment: Decimal
    start_date: date
    end_date: date
    status: LoanStatus


@dataclass(frozen=True, slots=True)
class HousingFund:
    account_number: str
    balance: Decimal
    monthly_deposit: Decimal
    employer: str | None  # None when not currently employed
    loans: tuple[HousingLoan, ...]
    meta: SectionMeta


# --- library ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LibraryLoan:
    title: str
    borrowed_on: date
    due_date: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    title: str
    reserved_on: date
    ready_for_pickup: bool


@dataclass(frozen=True, slots=True)
class Library:
    card_number: str
    loans: tuple[LibraryLoan, ...]
    reservations: tuple[Reservation, ...]
    fines: Decimal  # outstanding fines
    meta: SectionMeta


Section = SocialSecurity | Transit | Health | HousingFund | Library
