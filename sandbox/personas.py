"""The sandbox's test citizens: one deterministic data set that all five stand-in agencies serve.

Each persona carries ``traits`` that steer the edge cases every agency must show. Agencies derive
their records from the persona (``rng(persona, agency)`` seeds per-agency detail), so the same
persona always yields the same data on the same ``sandbox.clock.today()``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date

# Traits, read by the agencies:
NO_LIBRARY = "no_library"  # never registered at the library: library answers "not found"
NO_HOUSING_FUND = "no_housing_fund"  # never employed in the formal sector
NO_SOCIAL_SECURITY = "no_social_security"
SENIOR = "senior"  # senior transit concession
STUDENT = "student"  # student transit concession
DISABLED = "disabled"  # disability transit concession
OVERDUE_LOANS = "overdue_loans"  # library books past due, with fines
TRANSIT_ZERO_BALANCE = "transit_zero_balance"
TRANSIT_NEGATIVE_BALANCE = "transit_negative_balance"  # e-tong overdraft
MEDICAL_ZERO_BALANCE = "medical_zero_balance"
HOUSING_NEGATIVE_BALANCE = "housing_negative_balance"  # withdrawal correction left the account negative
EMPLOYER_CHANGE = "employer_change"  # changed employer mid-year: contributions show both
UNEMPLOYED = "unemployed"  # contributions stopped; housing fund has no current employer
HOUSING_LOAN = "housing_loan"
MANY_TRIPS = "many_trips"  # more trips than one page: exercises pagination
MANY_VISITS = "many_visits"
NO_REGISTERED_CLINIC = "no_registered_clinic"
RESERVATIONS = "reservations"
RARE_NAME = "rare_name"  # name has characters outside the BMP or rare in fonts

ALL_TRAITS = frozenset(
    {
        NO_LIBRARY,
        NO_HOUSING_FUND,
        NO_SOCIAL_SECURITY,
        SENIOR,
        STUDENT,
        DISABLED,
        OVERDUE_LOANS,
        TRANSIT_ZERO_BALANCE,
        TRANSIT_NEGATIVE_BALANCE,
        MEDICAL_ZERO_BALANCE,
        HOUSING_NEGATIVE_BALANCE,
        EMPLOYER_CHANGE,
        UNEMPLOYED,
        HOUSING_LOAN,
        MANY_TRIPS,
        MANY_VISITS,
        NO_REGISTERED_CLINIC,
        RESERVATIONS,
        RARE_NAME,
    }
)


@dataclass(frozen=True, slots=True)
class Persona:
    card_number: str  # citizen card number, 12 digits, "3502" is the city's prefix
    name: str
    username: str
    password: str
    birth_date: date
    employer: str | None  # current employer (None: not employed)
    previous_employer: str | None = None  # for EMPLOYER_CHANGE
    traits: frozenset[str] = field(default_factory=frozenset)
    note: str = ""

    def has(self, trait: str) -> bool:
        return trait in self.traits

    def to_json(self) -> dict[str, object]:
        return {
            "cardNumber": self.card_number,
            "name": self.name,
            "username": self.username,
            "password": self.password,
            "birthDate": self.birth_date.isoformat(),
            "employer": self.employer,
            "traits": sorted(self.traits),
            "note": self.note,
        }


def _p(
    n: int,
    name: str,
    username: str,
    birth: str,
    employer: str | None,
    traits: set[str] | None = None,
    note: str = "",
    previous_employer: str | None = None,
) -> Persona:
    return Persona(
        card_number=f"3502{n:08d}",
        name=name,
        username=username,
        password=f"{username}-pass",
        birth_date=date.fromisoformat(birth),
        employer=employer,
        previous_employer=previous_employer,
        traits=frozenset(traits or set()),
        note=note,
    )


PERSONAS: tuple[Persona, ...] = (
    _p(
        1,
        "陈美玲",
        "chenmeiling",
        "1988-04-12",
        "厦门航空有限公司",
        {HOUSING_LOAN, RESERVATIONS},
        "Typical working adult with every card and a housing loan.",
    ),
    _p(
        2,
        "林志强",
        "linzhiqiang",
        "1951-09-30",
        None,
        {SENIOR, NO_HOUSING_FUND, MANY_VISITS},
        "Retired; senior transit concession; frequent hospital visits.",
    ),
    _p(
        3,
        "黄子涵",
        "huangzihan",
        "2007-02-18",
        None,
        {STUDENT, NO_HOUSING_FUND, NO_SOCIAL_SECURITY, OVERDUE_LOANS},
        "Secondary-school student: student concession, overdue library books with fines.",
    ),
    _p(
        4,
        "王建国",
        "wangjianguo",
        "1975-11-03",
        "厦门象屿集团",
        {EMPLOYER_CHANGE, HOUSING_LOAN, NO_LIBRARY},
        "Changed employer in June: contributions show two employers; no library account.",
        previous_employer="厦门建发股份有限公司",
    ),
    _p(
        5,
        "郑𠮷",
        "zhengji",
        "1992-07-07",
        "厦门大学",
        {RARE_NAME, MANY_TRIPS},
        "Name with 𠮷 (U+20BB7, outside the BMP); daily commuter with many trips.",
    ),
    _p(
        6,
        "李龘",
        "lida",
        "1983-01-25",
        "厦门市第一医院",
        {RARE_NAME, TRANSIT_ZERO_BALANCE},
        "Name with 龘 (rare); transit balance exactly zero.",
    ),
    _p(
        7,
        "吴晓燕",
        "wuxiaoyan",
        "1996-05-21",
        "美图公司",
        {TRANSIT_NEGATIVE_BALANCE, RESERVATIONS},
        "Transit card in overdraft (negative balance).",
    ),
    _p(
        8,
        "张伟",
        "zhangwei",
        "1979-12-01",
        None,
        {UNEMPLOYED, MEDICAL_ZERO_BALANCE},
        "Lost job in spring: contributions stop, no current housing-fund employer, medical account at zero.",
        previous_employer="厦门钨业股份有限公司",
    ),
    _p(
        9,
        "蔡淑芬",
        "caishufen",
        "1948-03-15",
        None,
        {SENIOR, NO_HOUSING_FUND, NO_LIBRARY},
        "Elderly, no library account, senior concession.",
    ),
    _p(
        10,
        "许家豪",
        "xujiahao",
        "2005-10-09",
        None,
        {STUDENT, NO_HOUSING_FUND, MANY_TRIPS},
        "University student, commutes daily.",
    ),
    _p(11, "欧阳娜娜", "ouyangnana", "1990-08-16", "厦门国际银行", {HOUSING_LOAN}, "Two-character surname (欧阳)."),
    _p(
        12,
        "谢䶮",
        "xieyan",
        "1986-06-06",
        "厦门港务集团",
        {RARE_NAME, HOUSING_NEGATIVE_BALANCE},
        "Name with 䶮 (CJK Extension A); housing fund balance negative after a withdrawal correction.",
    ),
    _p(
        13,
        "洪秀英",
        "hongxiuying",
        "1960-02-28",
        None,
        {NO_HOUSING_FUND, OVERDUE_LOANS, DISABLED},
        "Disability concession; overdue library loans.",
    ),
    _p(
        14,
        "杨帆",
        "yangfan",
        "1999-11-11",
        "厦门地铁集团",
        {NO_REGISTERED_CLINIC, MANY_TRIPS},
        "Never registered with a family clinic.",
    ),
    _p(
        15,
        "周杰",
        "zhoujie",
        "1994-04-04",
        "厦门ABB开关有限公司",
        {EMPLOYER_CHANGE},
        "Employer change mid-year.",
        previous_employer="戴尔(中国)有限公司",
    ),
    _p(
        16,
        "苏婉清",
        "suwanqing",
        "2010-01-20",
        None,
        {STUDENT, NO_HOUSING_FUND, NO_SOCIAL_SECURITY, NO_REGISTERED_CLINIC},
        "Child: student concession, no social security or housing fund.",
    ),
    _p(
        17,
        "曾𡈼",
        "zengting",
        "1971-09-09",
        "厦门市公安局",
        {RARE_NAME, HOUSING_LOAN, MANY_VISITS},
        "Name with 𡈼 (CJK Extension B).",
    ),
    _p(
        18,
        "卢俊杰",
        "lujunjie",
        "1985-12-24",
        "厦门太古飞机工程有限公司",
        {NO_LIBRARY, TRANSIT_ZERO_BALANCE},
        "No library account, transit balance zero.",
    ),
    _p(
        19,
        "方丽华",
        "fanglihua",
        "1955-05-05",
        None,
        {SENIOR, MEDICAL_ZERO_BALANCE, RESERVATIONS},
        "Senior, medical account zero, library reservations.",
    ),
    _p(
        20,
        "邱明",
        "qiuming",
        "1997-03-03",
        "厦门银行",
        {TRANSIT_NEGATIVE_BALANCE, OVERDUE_LOANS},
        "Overdraft on transit and overdue library books.",
    ),
    _p(21, "叶子", "yezi", "2001-07-01", "小红书科技(厦门)", set(), "Plain case with minimal data."),
    _p(
        22,
        "上官婉儿",
        "shangguanwaner",
        "1968-10-10",
        "厦门市图书馆",
        {RESERVATIONS, MANY_VISITS},
        "Library staff member; compound surname 上官.",
    ),
)

_BY_CARD = {p.card_number: p for p in PERSONAS}


def find(card_number: str) -> Persona | None:
    return _BY_CARD.get(card_number)


def rng(persona: Persona, agency: str) -> random.Random:
    """A generator seeded per persona and agency, so data is stable across runs and processes."""
    return random.Random(f"{persona.card_number}:{agency}")


def personas_json() -> str:
    return json.dumps([p.to_json() for p in PERSONAS], ensure_ascii=False, indent=2)
