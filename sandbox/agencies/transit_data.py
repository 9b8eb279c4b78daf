"""The e-tong card records the stand-in transit agency serves, derived from the sandbox personas.

Everything comes from the persona's traits plus ``personas.rng(persona, "transit")``; trip times are
relative to ``sandbox.clock.today()``, so the same persona gives the same card on the same day.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sandbox import clock, personas
from sandbox.personas import Persona

AGENCY = "transit"
CST = timezone(timedelta(hours=8))
TRIP_WINDOW_DAYS = 60
SERVICE_START_HOUR = 6  # first departures; no trips before 06:00 or after 22:59
SERVICE_HOURS = 17
PAGE_LIMIT_DEFAULT = 20
PAGE_LIMIT_MAX = 50

BUS_FARE_FEN = 100  # flat fare, so a bus trip has no exit stop
FERRY_FARE_FEN = 3500

BUS_LINES: dict[str, tuple[str, ...]] = {
    "1路": ("厦门火车站", "文灶", "中山公园", "思北", "轮渡", "厦门大学"),
    "22路": ("湖里万达", "江头", "莲坂", "金榜公园", "厦门大学"),
    "659路": ("软件园二期", "观音山", "会展中心", "前埔枢纽站"),
    "912路": ("集美学村", "杏林湾", "园博苑", "厦门北站"),
}
BRT_LINES: dict[str, tuple[str, ...]] = {
    "BRT快1线": (
        "第一码头", "开禾路口", "思北", "斗西路", "二市", "文灶", "金榜公园", "火车站",
        "莲坂", "龙山桥", "卧龙晓城", "东芳山庄", "洪山柄", "西林", "金山", "市政务服务中心",
        "双十中学枋湖校区", "县后", "蔡塘", "前埔枢纽站",
    ),
}  # fmt: skip
METRO_LINES: dict[str, tuple[str, ...]] = {
    "地铁1号线": (
        "镇海路", "中山公园", "将军祠", "文灶", "湖滨东路", "莲坂", "莲花路口", "吕厝", "乌石浦",
        "塘边", "火炬园", "殿前", "高崎", "集美学村", "园博苑", "杏林村", "岩内",
    ),
    "地铁2号线": (
        "天竹", "海沧湾公园", "邮轮中心", "东渡路", "江头", "吕厝", "体育中心", "SM广场",
        "湖里公园", "五缘湾", "观音山", "五通",
    ),
    "地铁3号线": (
        "厦门火车站", "湖滨东路", "体育中心", "蔡塘", "五缘湾", "刘五店", "翔安机场",
    ),
}  # fmt: skip
FERRY_PIERS: tuple[str, str] = ("邮轮中心厦鼓码头", "三丘田码头")
FERRY_LINE = "厦鼓航线"

# How often each mode appears in a card's history (weights, not percentages).
MODE_WEIGHTS: dict[str, int] = {"BUS": 45, "BRT": 15, "METRO": 35, "FERRY": 5}


@dataclass(frozen=True, slots=True)
class TripRecord:
    trip_id: str
    started_at: datetime
    mode: str  # BUS, BRT, METRO, FERRY
    line: str
    entry_stop: str
    exit_stop: str | None
    full_fare_fen: int
    fare_fen: int

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.started_at, self.trip_id)


@dataclass(frozen=True, slots=True)
class CardRecord:
    card_number: str  # the e-tong number, not the citizen card number
    citizen_card_number: str
    balance_fen: int
    concession: str  # ADULT, SENIOR, STUDENT, DISABLED
    trips: tuple[TripRecord, ...]  # newest first


def _draw_card_number(rng: random.Random) -> str:
    return f"ET{rng.randrange(10**11, 10**12)}"


def _card_numbers() -> dict[str, Persona]:
    by_number = {_draw_card_number(personas.rng(p, AGENCY)): p for p in personas.PERSONAS}
    if len(by_number) != len(personas.PERSONAS):
        raise RuntimeError("two personas drew the same e-tong card number; change the derivation")
    return by_number


_BY_CARD_NUMBER = _card_numbers()


def concession_of(persona: Persona) -> str:
    # A persona could qualify twice; the most generous concession wins, as at the e-tong counter.
    for trait, code in (
        (personas.SENIOR, "SENIOR"),
        (personas.DISABLED, "DISABLED"),
        (personas.STUDENT, "STUDENT"),
    ):
        if persona.has(trait):
            return code
    return "ADULT"


def concession_fare(full_fen: int, concession: str, mode: str) -> int:
    """Seniors ride free; disabled riders ride buses free and pay half elsewhere; students pay half."""
    half = (full_fen + 1) // 2  # half a fen rounds up
    if concession == "SENIOR":
        return 0
    if concession == "DISABLED":
        return 0 if mode in ("BUS", "BRT") else half
    if concession == "STUDENT":
        return half
    return full_fen


def _balance_fen(persona: Persona, rng: random.Random) -> int:
    if persona.has(personas.TRANSIT_ZERO_BALANCE):
        return 0
    if persona.has(personas.TRANSIT_NEGATIVE_BALANCE):
        return -rng.randint(50, 1500)
    return rng.randint(500, 30000)


def _trip_count(persona: Persona, rng: random.Random) -> int:
    if persona.has(personas.MANY_TRIPS):
        return rng.randint(120, 170)  # several pages, yet below the hub's MAX_ITEMS (200)
    if not persona.traits:
        return rng.randint(0, 3)  # the "plain case with minimal data"
    return rng.randint(6, 40)


def _ride(rng: random.Random, mode: str) -> tuple[str, str, str | None, int]:
    """(line, entry stop, exit stop, full fare in fen) for one ride."""
    if mode == "BUS":
        line = rng.choice(sorted(BUS_LINES))
        return line, rng.choice(BUS_LINES[line]), None, BUS_FARE_FEN
    if mode == "FERRY":
        entry, exit_ = FERRY_PIERS if rng.random() < 0.5 else FERRY_PIERS[::-1]
        return FERRY_LINE, entry, exit_, FERRY_FARE_FEN
    lines = BRT_LINES if mode == "BRT" else METRO_LINES
    line = rng.choice(sorted(lines))
    i, j = rng.sample(range(len(lines[line])), 2)
    stops = abs(i - j)
    # BRT: 1 yuan for up to 4 stops, 0.50 more per 4 further; metro: 2 yuan, 1 more per 4 stops, max 7.
    fare = 100 + 50 * ((stops - 1) // 4) if mode == "BRT" else min(200 + 100 * ((stops - 1) // 4), 700)
    return line, lines[line][i], lines[line][j], fare


def _trips(persona: Persona, card_number: str, concession: str, rng: random.Random, today: date) -> list[TripRecord]:
    minutes_per_day = SERVICE_HOURS * 60
    # Distinct minutes, so no two taps of one card share a start time.
    slots = rng.sample(range(TRIP_WINDOW_DAYS * minutes_per_day), _trip_count(persona, rng))
    modes = sorted(MODE_WEIGHTS)
    trips = []
    for slot in slots:
        days_ago = 1 + slot // minutes_per_day  # yesterday back to 60 days ago: never in the future
        minute = slot % minutes_per_day
        day = today - timedelta(days=days_ago)
        started = datetime.combine(day, time(SERVICE_START_HOUR + minute // 60, minute % 60), tzinfo=CST)
        mode = rng.choices(modes, weights=[MODE_WEIGHTS[m] for m in modes])[0]
        line, entry, exit_, full = _ride(rng, mode)
        trips.append(
            TripRecord(
                trip_id=f"TR{card_number[-6:]}{started:%Y%m%d%H%M}",
                started_at=started,
                mode=mode,
                line=line,
                entry_stop=entry,
                exit_stop=exit_,
                full_fare_fen=full,
                fare_fen=concession_fare(full, concession, mode),
            )
        )
    trips.sort(key=lambda t: t.sort_key, reverse=True)
    return trips


@functools.lru_cache(maxsize=64)
def _card(citizen_card_number: str, today: date) -> CardRecord:
    persona = personas.find(citizen_card_number)
    if persona is None:
        raise KeyError(citizen_card_number)
    rng = personas.rng(persona, AGENCY)
    number = _draw_card_number(rng)  # first draw, as in _card_numbers
    concession = concession_of(persona)
    balance = _balance_fen(persona, rng)
    return CardRecord(
        card_number=number,
        citizen_card_number=persona.card_number,
        balance_fen=balance,
        concession=concession,
        trips=tuple(_trips(persona, number, concession, rng, today)),
    )


def card_for_citizen(citizen_card_number: str) -> CardRecord | None:
    """Everyone in the sandbox holds an e-tong card; unknown citizens have none."""
    if personas.find(citizen_card_number) is None:
        return None
    return _card(citizen_card_number, clock.today())


def card_by_number(card_number: str) -> CardRecord | None:
    persona = _BY_CARD_NUMBER.get(card_number)
    return None if persona is None else _card(persona.card_number, clock.today())


def money(fen: int) -> str:
    """Fen -> the agency's decimal string: 1250 -> "12.50", -300 -> "-3.00", 0 -> "0.00"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
