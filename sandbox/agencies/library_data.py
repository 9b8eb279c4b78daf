"""The library's patron records, derived from the personas so every run serves the same data.

Loans run ``LOAN_DAYS`` per renewal and fall due at the end of the due date in China time. An overdue
book costs ``FINE_FEN_PER_DAY`` for every whole day past its due date, so a patron's fine balance is
always the sum over the overdue loans, and loans that are not overdue never carry a fine.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sandbox import clock, personas
from sandbox.personas import Persona

AGENCY = "library"
LOAN_DAYS = 30
FINE_FEN_PER_DAY = 10  # 0.10 yuan per overdue book per day
PICKUP_DAYS = 7  # a hold that arrived waits this long on the pickup shelf

# The library keeps its own clock in China Standard Time, whatever the server's zone.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")
DUE_TIME = time(23, 59, 59)

HOLD_READY = "READY_FOR_PICKUP"
HOLD_WAITING = "WAITING"
HOLD_IN_TRANSIT = "IN_TRANSIT"
HOLD_STATUSES = (HOLD_READY, HOLD_WAITING, HOLD_IN_TRANSIT)

BRANCHES = ("总馆", "集美新城分馆", "同安分馆", "鼓浪屿分馆")
KIOSK = "24小时自助图书馆"  # self-service lending machine, open around the clock
OPENING_HOURS = (9, 20)  # first and last hour a branch desk lends

# (title, author, Chinese Library Classification call number)
BOOKS: tuple[tuple[str, str, str], ...] = (
    ("活着", "余华", "I247.57/Y82"),
    ("许三观卖血记", "余华", "I247.5/Y82-2"),
    ("平凡的世界", "路遥", "I247.5/L86"),
    ("三体", "刘慈欣", "I247.55/L72"),
    ("围城", "钱锺书", "I246.5/Q43"),
    ("白鹿原", "陈忠实", "I247.5/C62"),
    ("边城", "沈从文", "I246.5/S53"),
    ("骆驼祥子", "老舍", "I246.5/L34"),
    ("呐喊", "鲁迅", "I210.6/L97"),
    ("红楼梦", "曹雪芹", "I242.47/C15"),
    ("长安的荔枝", "马伯庸", "I247.5/M12"),
    ("人间草木", "汪曾祺", "I266/W37"),
    ("撒哈拉的故事", "三毛", "I266/S19"),
    ("额尔古纳河右岸", "迟子建", "I247.5/C54"),
    ("繁花", "金宇澄", "I247.5/J63"),
    ("乡土中国", "费孝通", "C912.82/F34"),
    ("万历十五年", "黄仁宇", "K248.07/H76"),
    ("明朝那些事儿", "当年明月", "K248.09/D22"),
    ("城南旧事", "林海音", "I287.4/L67"),
    ("我与地坛", "史铁生", "I267/S57"),
    ("人世间", "梁晓声", "I247.5/L42"),
    ("草房子", "曹文轩", "I287.45/C15"),
    ("文化苦旅", "余秋雨", "I267/Y83"),
    ("一句顶一万句", "刘震云", "I247.5/L75"),
)


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    barcode: str
    title: str
    author: str
    call_number: str
    branch: str
    borrowed_at: datetime
    due_on: date
    renewals: int

    @property
    def due_at(self) -> datetime:
        return datetime.combine(self.due_on, DUE_TIME, tzinfo=CST)

    def days_overdue(self, today: date) -> int:
        return max(0, (today - self.due_on).days)

    def overdue(self, today: date) -> bool:
        return self.days_overdue(today) > 0

    def fine_fen(self, today: date) -> int:
        return self.days_overdue(today) * FINE_FEN_PER_DAY


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    title: str
    author: str
    pickup_branch: str
    reserved_at: datetime
    status: str
    queue_position: int | None  # only while WAITING
    pickup_by: date | None  # only when READY_FOR_PICKUP

    @property
    def pickup_by_at(self) -> datetime | None:
        return None if self.pickup_by is None else datetime.combine(self.pickup_by, DUE_TIME, tzinfo=CST)


@dataclass(frozen=True, slots=True)
class Patron:
    patron_id: int
    card_number: str  # the library card, "LIB" + digits
    name: str
    citizen_card: str
    home_branch: str
    registered_on: date
    loans: tuple[Loan, ...]  # borrowed most recently first
    holds: tuple[Hold, ...]  # reserved most recently first
    today: date

    @property
    def fine_fen(self) -> int:
        return sum(loan.fine_fen(self.today) for loan in self.loans)


def _at(day: date, rng: random.Random, first_hour: int, last_hour: int) -> datetime:
    hour = rng.randint(first_hour, last_hour)
    return datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=CST)


def _patron_id(persona: Persona) -> int:
    # Drawn from its own stream so the id stays put even if the rest of the derivation changes.
    return personas.rng(persona, f"{AGENCY}:patron-id").randint(1_000_000, 9_999_999)


def _loans(persona: Persona, rng: random.Random, books: list[tuple[str, str, str]], today: date) -> list[Loan]:
    plans: list[tuple[date, int]] = []  # (borrowed on, renewals)
    if persona.has(personas.OVERDUE_LOANS):
        for _ in range(rng.randint(1, 3)):
            days_late = rng.randint(1, 45)
            plans.append((today - timedelta(days=days_late + LOAN_DAYS), 0))
        current = rng.randint(1, 2)  # "some" loans late: keep at least one on time
    else:
        current = rng.randint(0, 4)
    for _ in range(current):
        renewals = rng.choice((0, 0, 1))
        # Due no earlier than today, so on time by construction; a renewed book has been out a while.
        earliest = 1 if renewals == 0 else LOAN_DAYS - 5
        plans.append((today - timedelta(days=rng.randint(earliest, LOAN_DAYS * (1 + renewals))), renewals))
    loans = []
    for borrowed_on, renewals in plans:
        title, author, call_number = books.pop()
        # Kiosk loans and holds placed online can fall before 08:00 China time, when the UTC date is
        # still the day before: exactly the case a connector that forgets the time zone gets wrong.
        branch = rng.choice((*BRANCHES, KIOSK))
        hours = (0, 23) if branch == KIOSK else OPENING_HOURS
        loans.append(
            Loan(
                loan_id=f"L{rng.randint(10**9, 10**10 - 1)}",
                barcode=f"0592{rng.randint(10**8, 10**9 - 1)}",
                title=title,
                author=author,
                call_number=call_number,
                branch=branch,
                borrowed_at=_at(borrowed_on, rng, *hours),
                due_on=borrowed_on + timedelta(days=LOAN_DAYS * (1 + renewals)),
                renewals=renewals,
            )
        )
    return sorted(loans, key=lambda loan: loan.borrowed_at, reverse=True)


def _holds(persona: Persona, rng: random.Random, books: list[tuple[str, str, str]], today: date) -> list[Hold]:
    if not persona.has(personas.RESERVATIONS):
        return []
    count = rng.randint(2, 4)
    # "Some" holds ready: at least one on the pickup shelf and at least one still waiting.
    statuses = [HOLD_READY, HOLD_WAITING] + [rng.choice(HOLD_STATUSES) for _ in range(count - 2)]
    holds = []
    for status in statuses:
        title, author, _ = books.pop()
        reserved_on = today - timedelta(days=rng.randint(4, 40) if status == HOLD_READY else rng.randint(1, 30))
        holds.append(
            Hold(
                hold_id=f"H{rng.randint(10**9, 10**10 - 1)}",
                title=title,
                author=author,
                pickup_branch=rng.choice(BRANCHES),
                reserved_at=_at(reserved_on, rng, 0, 23),  # placed online, any hour
                status=status,
                queue_position=rng.randint(1, 8) if status == HOLD_WAITING else None,
                pickup_by=today + timedelta(days=rng.randint(1, PICKUP_DAYS)) if status == HOLD_READY else None,
            )
        )
    return sorted(holds, key=lambda hold: hold.reserved_at, reverse=True)


@functools.lru_cache(maxsize=256)  # deterministic per (persona, day): derive once
def _derive(persona: Persona, today: date) -> Patron:
    rng = personas.rng(persona, AGENCY)
    books = list(BOOKS)
    rng.shuffle(books)
    loans = _loans(persona, rng, books, today)
    holds = _holds(persona, rng, books, today)
    return Patron(
        patron_id=_patron_id(persona),
        card_number=f"LIB0592{persona.card_number[-8:]}",
        name=persona.name,
        citizen_card=persona.card_number,
        home_branch=rng.choice(BRANCHES),
        registered_on=max(persona.birth_date, today - timedelta(days=rng.randint(200, 5000))),
        loans=tuple(loans),
        holds=tuple(holds),
        today=today,
    )


_REGISTERED = [p for p in personas.PERSONAS if not p.has(personas.NO_LIBRARY)]
_BY_PATRON_ID = {_patron_id(p): p for p in _REGISTERED}
if len(_BY_PATRON_ID) != len(_REGISTERED):
    raise RuntimeError("library patron ids collide; change the id derivation")


def patron_for_card(citizen_card: str) -> Patron | None:
    persona = personas.find(citizen_card)
    if persona is None or persona.has(personas.NO_LIBRARY):
        return None
    return _derive(persona, clock.today())


def patron_by_id(patron_id: int) -> Patron | None:
    persona = _BY_PATRON_ID.get(patron_id)
    return None if persona is None else _derive(persona, clock.today())
