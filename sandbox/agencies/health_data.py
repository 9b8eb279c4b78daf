"""The health card platform's records, derived from each persona's traits and ``rng(persona, "health")``.

Everyone has a health card. Records come out in the platform's wire shape (snake_case dicts), lists
newest first, so the handlers only page and serialise them.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from sandbox import clock, personas
from sandbox.personas import Persona

AGENCY = "health"
DATE_FORMAT = "%Y-%m-%d"

# Xiamen's districts (administrative division code, name) and their community health service centres.
DISTRICT_CLINICS: dict[str, tuple[str, ...]] = {
    "350203": (
        "思明区鹭江街道社区卫生服务中心",
        "思明区嘉莲街道社区卫生服务中心",
        "思明区筼筜街道社区卫生服务中心",
    ),
    "350205": ("海沧区海沧街道社区卫生服务中心", "海沧区新阳街道社区卫生服务中心"),
    "350206": ("湖里区殿前街道社区卫生服务中心", "湖里区江头街道社区卫生服务中心"),
    "350211": ("集美区集美街道社区卫生服务中心", "集美区杏林街道社区卫生服务中心"),
    "350212": ("同安区大同街道社区卫生服务中心",),
    "350213": ("翔安区新店街道社区卫生服务中心",),
}

HOSPITALS = (
    "厦门大学附属第一医院",
    "厦门大学附属中山医院",
    "厦门市中医院",
    "厦门大学附属心血管病医院",
    "厦门大学附属翔安医院",
    "厦门医学院附属第二医院",
    "厦门市第五医院",
)
CHILDREN_HOSPITALS = ("厦门市儿童医院", "厦门市妇幼保健院")
ADULT_DEPARTMENTS = (
    "心血管内科",
    "呼吸与危重症医学科",
    "消化内科",
    "内分泌科",
    "神经内科",
    "骨科",
    "眼科",
    "耳鼻咽喉科",
    "皮肤科",
    "口腔科",
    "普通外科",
)
SENIOR_DEPARTMENTS = (
    "老年医学科",
    "心血管内科",
    "内分泌科",
    "神经内科",
    "呼吸与危重症医学科",
    "骨科",
    "眼科",
)
CHILDREN_DEPARTMENTS = ("儿科", "儿童保健科", "小儿外科", "口腔科")
EMERGENCY_DEPARTMENT = "急诊科"
GENERAL_PRACTICE = "全科医学科"  # department of a community centre

FLU = "流感疫苗"
COVID = "新冠疫苗"
PNEUMOCOCCAL = "23价肺炎球菌多糖疫苗"
FLU_SEASONS = 6  # seasons of flu records kept, the current one included
SENIOR_PNEUMOCOCCAL_AGE = 65
CHILD_AGE = 14  # seen in paediatrics below this age
ADULT_AGE = 18

# The national immunisation programme (国家免疫规划) schedule: (vaccine, dose, age in months when due).
CHILDHOOD_SCHEDULE: tuple[tuple[str, int, int], ...] = (
    ("乙肝疫苗", 1, 0),
    ("卡介苗", 1, 0),
    ("乙肝疫苗", 2, 1),
    ("脊髓灰质炎疫苗", 1, 2),
    ("脊髓灰质炎疫苗", 2, 3),
    ("百白破疫苗", 1, 3),
    ("脊髓灰质炎疫苗", 3, 4),
    ("百白破疫苗", 2, 4),
    ("百白破疫苗", 3, 5),
    ("乙肝疫苗", 3, 6),
    ("A群流脑多糖疫苗", 1, 6),
    ("麻腮风疫苗", 1, 8),
    ("乙脑减毒活疫苗", 1, 8),
    ("A群流脑多糖疫苗", 2, 9),
    ("百白破疫苗", 4, 18),
    ("麻腮风疫苗", 2, 18),
    ("甲肝减毒活疫苗", 1, 18),
    ("乙脑减毒活疫苗", 2, 24),
    ("A群C群流脑多糖疫苗", 1, 36),
    ("脊髓灰质炎疫苗", 4, 48),
    ("A群C群流脑多糖疫苗", 2, 72),
    ("白破疫苗", 1, 72),
)


@dataclass(frozen=True, slots=True)
class HealthRecords:
    resident: dict[str, Any]
    visits: tuple[dict[str, Any], ...]  # newest first
    vaccinations: tuple[dict[str, Any], ...]  # newest first


def records_for(card_no: str) -> HealthRecords | None:
    persona = personas.find(card_no)
    return None if persona is None else _records(persona, clock.today())


@cache
@functools.lru_cache(maxsize=256)  # deterministic per (persona, day): derive once
def _records(persona: Persona, today: date) -> HealthRecords:
    # One generator, drawn in a fixed order, so every record is stable for a given today().
    rng = personas.rng(persona, AGENCY)
    district = rng.choice(sorted(DISTRICT_CLINICS))
    home_clinic = rng.choice(DISTRICT_CLINICS[district])
    card_no = f"HC{district}{rng.randrange(10**10):010d}"
    clinic = None
    if not persona.has(personas.NO_REGISTERED_CLINIC):
        clinic = {
            "clinic_code": f"CHC{district}{DISTRICT_CLINICS[district].index(home_clinic) + 1:03d}",
            "clinic_name": home_clinic,
            "signed_on": _iso(today - timedelta(days=rng.randint(60, 2000))),
        }
    resident = {
        "card_no": persona.card_number,
        "health_card_no": card_no,
        "card_status": "active",
        "issued_on": _iso(max(persona.birth_date, today - timedelta(days=rng.randint(800, 3000)))),
        "registered_clinic": clinic,
    }
    visits = _visits(persona, today, rng, home_clinic)
    vaccinations = _vaccinations(persona, today, rng, home_clinic)
    return HealthRecords(resident=resident, visits=visits, vaccinations=vaccinations)


def _visits(persona: Persona, today: date, rng: random.Random, home_clinic: str) -> tuple[dict[str, Any], ...]:
    many = persona.has(personas.MANY_VISITS)
    # Well past the largest page (100), so even a connector asking for full pages has to walk them.
    count = rng.randint(110, 150) if many else rng.randint(0, 8)
    span_days = 3 * 365 if many else 2 * 365
    child = _age(persona, today) < CHILD_AGE
    senior = persona.has(personas.SENIOR)
    visits: list[dict[str, Any]] = []
    for _ in range(count):
        on = today - timedelta(days=rng.randint(0, span_days))
        roll = rng.random()
        discharged: date | None = None
        if roll < 0.08:
            kind, facility, department = "emergency", rng.choice(HOSPITALS), EMERGENCY_DEPARTMENT
        elif roll < (0.2 if senior else 0.14):
            kind = "inpatient"
            facility = rng.choice(CHILDREN_HOSPITALS if child else HOSPITALS)
            department = rng.choice(
                CHILDREN_DEPARTMENTS if child else SENIOR_DEPARTMENTS if senior else ADULT_DEPARTMENTS
            )
            discharged = on + timedelta(days=rng.randint(2, 14))
        elif roll < 0.45 and not child:
            kind, facility, department = "outpatient", home_clinic, GENERAL_PRACTICE
        else:
            kind = "outpatient"
            facility = rng.choice(CHILDREN_HOSPITALS if child else HOSPITALS)
            department = rng.choice(
                CHILDREN_DEPARTMENTS if child else SENIOR_DEPARTMENTS if senior else ADULT_DEPARTMENTS
            )
        visits.append(
            {
                "visit_no": f"MZ{on:%Y%m%d}{rng.randrange(10**6):06d}",
                "visit_date": _iso(on),
                "visit_type": kind,
                "facility_name": facility,
                "department_name": department,
                # Still in hospital when the stay has not ended yet.
                "discharge_date": _iso(discharged) if discharged and discharged <= today else None,
            }
        )
    visits.sort(key=lambda v: (v["visit_date"], v["visit_no"]), reverse=True)
    return tuple(visits)


def _vaccinations(persona: Persona, today: date, rng: random.Random, home_clinic: str) -> tuple[dict[str, Any], ...]:
    site = f"{home_clinic}预防接种门诊"
    shots: list[tuple[str, int, date]] = []
    birth = persona.birth_date
    if persona.has(personas.STUDENT) or _age(persona, today) < ADULT_AGE:
        for vaccine, dose, months in CHILDHOOD_SCHEDULE:
            # Birth doses are given in the maternity ward; later ones within a couple of weeks of due.
            on = _add_months(birth, months) + timedelta(days=rng.randint(0, 14) if months else 0)
            shots.append((vaccine, dose, on))
    if birth < date(2018, 1, 1):
        # The 2021 campaign: two doses, plus a booster for adults. Historical, so fixed dates.
        first = date(2021, 4, 1) + timedelta(days=rng.randint(0, 90))
        second = first + timedelta(days=rng.randint(28, 56))
        shots += [(COVID, 1, first), (COVID, 2, second)]
        if _add_months(birth, 12 * ADULT_AGE) <= date(2021, 12, 1):
            shots.append((COVID, 3, second + timedelta(days=rng.randint(180, 240))))
    senior = persona.has(personas.SENIOR)
    for year in range(today.year - FLU_SEASONS + 1, today.year + 1):
        # Seniors get the free seasonal shot every autumn; others now and then. One dose per season.
        on = date(year, 10, 8) + timedelta(days=rng.randint(0, 40))
        if senior or rng.random() < 0.3:
            shots.append((FLU, 1, on))
    if senior:
        shots.append((PNEUMOCOCCAL, 1, _add_months(birth, 12 * SENIOR_PNEUMOCOCCAL_AGE) + timedelta(days=30)))
    given = [s for s in shots if s[2] <= today]
    given.sort(key=lambda s: (s[2], s[0], s[1]), reverse=True)
    return tuple(
        {
            "record_no": f"YM{on:%Y%m%d}{i:04d}",
            "vaccine_name": vaccine,
            "dose_no": dose,
            "vaccinated_on": _iso(on),
            "site_name": site,
            "batch_no": f"{on:%Y%m}{rng.choice('ABCDE')}{rng.randrange(1000):03d}",
        }
        for i, (vaccine, dose, on) in enumerate(given, start=1)
    )


def _age(persona: Persona, today: date) -> int:
    birth = persona.birth_date
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    target_year, target_month = day.year + year, month + 1
    # Clamp to the month's last day (born on the 31st, due in a 30-day month).
    for d in (day.day, 30, 29, 28):
        try:
            return date(target_year, target_month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _iso(day: date) -> str:
    return day.strftime(DATE_FORMAT)
