"""Compiled manifest mappings run on hand-written agency payloads (no network): exact money, enums,
nullable paths, China-time dates, stable newest-first lists, and errors that say where they went wrong."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.domain import (
    Concession,
    Health,
    HousingFund,
    InsuranceType,
    Library,
    LoanStatus,
    SectionMeta,
    SocialSecurity,
    Transit,
    TripMode,
)
from connectors.manifest_parsing import from_data
from connectors.mapping import CompiledSection, compile_section, path_reader
from connectors.registry import builtin_manifest
from connectors.section_types import fields_table

META = SectionMeta(source="test", fetched_at=datetime(2026, 3, 1, tzinfo=UTC))


def compiled(agency: str) -> CompiledSection:
    return compile_section(builtin_manifest(agency))


# --- payloads shaped like the agencies' (docs/agencies/*.md) -------------------------------------------


def transit_card(**changes: Any) -> dict[str, Any]:
    return {"cardNumber": "ET0592000001", "balance": "12.50", "concession": "ADULT", **changes}


def trip(started_at: str, **changes: Any) -> dict[str, Any]:
    base = {"startedAt": started_at, "mode": "METRO", "line": "1", "entryStop": "A", "exitStop": "B", "fare": "3.00"}
    return {**base, **changes}


def build_transit(card: dict[str, Any], trips: list[dict[str, Any]] | None = None) -> Transit:
    section = compiled("transit").build({"card": card}, {"trips": list(trips or [])}, META)
    assert isinstance(section, Transit)
    return section


def housing_account(**changes: Any) -> dict[str, Any]:
    base = {
        "accountNo": "GJJ0001",
        "balance": "52310.08",
        "monthlyDeposit": {"personal": "1234.56", "employer": "1234.56"},
        "employer": {"unitName": "厦门某某科技有限公司"},
    }
    return {**base, **changes}


def housing_loan(start: str, loan_no: str = "L1", status: str = "REPAYING") -> dict[str, Any]:
    return {
        "loanNo": loan_no,
        "loanAmount": "600000.00",
        "outstandingPrincipal": "412345.67",
        "monthlyRepayment": "3456.78",
        "startDate": start,
        "endDate": "2044/01/15",
        "loanStatus": status,
    }


def build_housing(account: dict[str, Any], loans: list[dict[str, Any]] | None = None) -> HousingFund:
    section = compiled("housing_fund").build({"account": account}, {"loans": list(loans or [])}, META)
    assert isinstance(section, HousingFund)
    return section


def insured(codes: list[str], balance: object = 738017) -> dict[str, Any]:
    return {"insurance_list": [{"insurance_code": c} for c in codes], "medical_account_balance": balance}


def contribution(period: str, employer: str = "厦门某某公司") -> dict[str, Any]:
    return {
        "period": period,
        "employer_name": employer,
        "base": 800000,
        "personal_amount": 64000,
        "employer_amount": 128000,
    }


def build_social_security(person: dict[str, Any], contributions: list[dict[str, Any]] | None = None) -> SocialSecurity:
    section = compiled("social_security").build({"insured": person}, {"contributions": list(contributions or [])}, META)
    assert isinstance(section, SocialSecurity)
    return section


def resident(**changes: Any) -> dict[str, Any]:
    base = {"card_no": "350200000001", "health_card_no": "H3502001", "registered_clinic": {"clinic_name": "鼓浪屿社区"}}
    return {**base, **changes}


def visit(on: str, facility: str, kind: str = "outpatient") -> dict[str, Any]:
    return {"visit_date": on, "facility_name": facility, "department_name": "内科", "visit_type": kind}


def build_health(person: dict[str, Any], visits: list[dict[str, Any]] | None = None) -> Health:
    section = compiled("health").build({"resident": person}, {"visits": list(visits or []), "vaccinations": []}, META)
    assert isinstance(section, Health)
    return section


def build_library(
    fine_balance: object = 160, loans: list[dict[str, Any]] | None = None, holds: list[dict[str, Any]] | None = None
) -> Library:
    patron = {"patronId": 3600787, "cardNumber": "LIB059200000020", "fineBalance": fine_balance}
    section = compiled("library").build(
        {"patron": patron}, {"loans": list(loans or []), "holds": list(holds or [])}, META
    )
    assert isinstance(section, Library)
    return section


def library_loan(borrowed_at: int, title: str = "围城", due_at: int = 1796572799000) -> dict[str, Any]:
    return {"title": title, "borrowedAt": borrowed_at, "dueAt": due_at, "overdue": False}


# --- money ------------------------------------------------------------------------------------------------


def test_fen_become_exact_yuan() -> None:
    section = build_social_security(insured(["YL"], balance=738017), [contribution("202403")])
    assert section.medical_account_balance == Decimal("7380.17")
    assert str(section.medical_account_balance) == "7380.17"
    (paid,) = section.contributions
    assert (paid.base, paid.personal_amount, paid.employer_amount) == (
        Decimal("8000.00"),
        Decimal("640.00"),
        Decimal("1280.00"),
    )


def test_library_fines_in_fen() -> None:
    assert str(build_library(fine_balance=5).fines) == "0.05"


def test_decimal_strings_stay_exact() -> None:
    section = build_transit(transit_card(balance="-0.10"), [trip("2026-03-01T08:00:00+08:00", fare="0.30")])
    assert str(section.balance) == "-0.10"
    assert section.balance + section.trips[0].fare == Decimal("0.20")


def test_monthly_deposit_is_personal_plus_employer() -> None:
    account = housing_account(monthlyDeposit={"personal": "0.10", "employer": "0.20"})
    deposit = build_housing(account).monthly_deposit
    assert deposit == Decimal("0.30")
    assert str(deposit) == "0.30"  # exact, two places: no float 0.30000000000000004


@pytest.mark.parametrize("balance", [12.5, 12.0])
def test_float_decimal_money_is_refused(balance: float) -> None:
    with pytest.raises(ValueError, match="expected a decimal string"):
        build_transit(transit_card(balance=balance))


def test_float_fen_are_refused() -> None:
    with pytest.raises(ValueError, match="integer fen"):
        build_library(fine_balance=160.0)


def test_a_float_half_of_a_sum_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a decimal string"):
        build_housing(housing_account(monthlyDeposit={"personal": "1234.56", "employer": 1234.56}))


def test_float_fare_in_a_list_item_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a decimal string"):
        build_transit(transit_card(), [trip("2026-03-01T08:00:00+08:00", fare=3.0)])


def test_bad_money_names_the_field() -> None:
    with pytest.raises(ValueError, match="balance"):
        build_transit(transit_card(balance=12.5))


# --- enums ------------------------------------------------------------------------------------------------


def test_transit_enums() -> None:
    trips = [
        trip("2026-03-01T08:00:00+08:00", mode="BRT"),
        trip("2026-03-01T07:00:00+08:00", mode="BUS"),
        trip("2026-03-01T06:00:00+08:00", mode="FERRY"),
    ]
    section = build_transit(transit_card(concession="ADULT"), trips)
    assert section.concession is Concession.NONE
    assert [t.mode for t in section.trips] == [TripMode.BUS, TripMode.BUS, TripMode.FERRY]


def test_unknown_trip_mode_is_an_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"trips\.mode: unknown value 'TRAM'"):
        build_transit(transit_card(), [trip("2026-03-01T08:00:00+08:00", mode="TRAM")])


def test_unknown_concession_is_an_error() -> None:
    with pytest.raises(ValueError, match="concession: unknown value 'VIP'"):
        build_transit(transit_card(concession="VIP"))


def test_enum_values_are_matched_exactly() -> None:
    with pytest.raises(ValueError, match="unknown value 'brt'"):
        build_transit(transit_card(), [trip("2026-03-01T08:00:00+08:00", mode="brt")])


def test_loan_status_enum() -> None:
    loans = build_housing(housing_account(), [housing_loan("2024/01/15", status="IN_ARREARS")]).loans
    assert loans[0].status is LoanStatus.OVERDUE


def test_boolean_enum() -> None:
    holds = [
        {"title": "a", "reservedAt": 1709222400000, "status": "READY_FOR_PICKUP"},
        {"title": "b", "reservedAt": 1709222400000, "status": "IN_TRANSIT"},
    ]
    assert [r.ready_for_pickup for r in build_library(holds=holds).reservations] == [True, False]


def test_unknown_insurance_codes_are_skipped_and_duplicates_removed() -> None:
    section = build_social_security(insured(["YL", "CQHL", "YB", "YL", "GS", "YB"]))
    assert section.insurance_types == (InsuranceType.PENSION, InsuranceType.MEDICAL, InsuranceType.WORK_INJURY)


def test_insurance_types_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="insurance_types should be a list"):
        build_social_security({"insurance_list": {"insurance_code": "YL"}, "medical_account_balance": 0})


def test_skipping_unknown_codes_does_not_hide_a_broken_element() -> None:
    with pytest.raises(ValueError, match="insurance_code"):
        build_social_security({"insurance_list": [{"code": "YL"}], "medical_account_balance": 0})


# --- nullable paths and missing keys --------------------------------------------------------------------


def test_housing_employer_null_gives_none() -> None:
    assert build_housing(housing_account(employer=None)).employer is None


def test_housing_employer_present() -> None:
    assert build_housing(housing_account()).employer == "厦门某某科技有限公司"


def test_housing_employer_missing_key_is_an_error() -> None:
    account = housing_account()
    del account["employer"]
    with pytest.raises(ValueError, match=r"missing field 'account\.employer'"):
        build_housing(account)


def test_housing_employer_without_unit_name_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"missing field 'account\.employer\.unitName'"):
        build_housing(housing_account(employer={}))


def test_health_registered_clinic_null_gives_none() -> None:
    assert build_health(resident(registered_clinic=None)).registered_clinic is None
    assert build_health(resident()).registered_clinic == "鼓浪屿社区"


def test_health_registered_clinic_missing_key_is_an_error() -> None:
    person = resident()
    del person["registered_clinic"]
    with pytest.raises(ValueError, match=r"missing field 'resident\.registered_clinic'"):
        build_health(person)


def test_null_in_a_field_that_is_never_null() -> None:
    with pytest.raises(ValueError, match="balance is null"):
        build_transit(transit_card(balance=None))


def test_nullable_list_item_field() -> None:
    section = build_transit(transit_card(), [trip("2026-03-01T08:00:00+08:00", exitStop=None)])
    assert section.trips[0].exit_stop is None


# --- dates, instants, periods -------------------------------------------------------------------------------


def test_library_epoch_ms_dates_are_china_dates() -> None:
    # 2024-02-29T20:00:00Z is 2024-03-01 04:00 in China: the UTC calendar day is the day before.
    borrowed_at = int(datetime(2024, 2, 29, 20, 0, tzinfo=UTC).timestamp() * 1000)
    assert datetime.fromtimestamp(borrowed_at / 1000, tz=UTC).date() == date(2024, 2, 29)
    (loan,) = build_library(loans=[library_loan(borrowed_at)]).loans
    assert loan.borrowed_on == date(2024, 3, 1)


def test_library_midnight_china_time_boundary() -> None:
    midnight = int(datetime(2024, 2, 29, 16, 0, tzinfo=UTC).timestamp() * 1000)  # 2024-03-01 00:00 +08:00
    loans = build_library(loans=[library_loan(midnight - 1, title="a"), library_loan(midnight, title="b")]).loans
    assert {loan.title: loan.borrowed_on for loan in loans} == {"a": date(2024, 2, 29), "b": date(2024, 3, 1)}


def test_transit_naive_instants_are_china_time() -> None:
    (moved,) = build_transit(transit_card(), [trip("2026-03-01T08:00:00")]).trips
    assert moved.at == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_period_is_reformatted() -> None:
    (paid,) = build_social_security(insured(["YL"]), [contribution("202403")]).contributions
    assert paid.period == "2024-03"


def test_period_in_another_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="2024-03"):
        build_social_security(insured(["YL"]), [contribution("2024-03")])


def test_housing_dates_with_slashes() -> None:
    (loan,) = build_housing(housing_account(), [housing_loan("2024/01/15")]).loans
    assert (loan.start_date, loan.end_date) == (date(2024, 1, 15), date(2044, 1, 15))


# --- lists: newest first, stable --------------------------------------------------------------------------


def test_trips_are_sorted_newest_first() -> None:
    trips = [
        trip("2026-03-01T08:00:00+08:00", line="old"),
        trip("2026-03-03T08:00:00+08:00", line="new"),
        trip("2026-03-02T08:00:00+08:00", line="mid"),
    ]
    assert [t.line for t in build_transit(transit_card(), trips).trips] == ["new", "mid", "old"]


def test_sort_compares_instants_not_text() -> None:
    # 09:00 at +08:00 is 01:00 UTC, earlier than 02:00 UTC although its text sorts later.
    trips = [trip("2026-03-01T09:00:00+08:00", line="earlier"), trip("2026-03-01T02:00:00+00:00", line="later")]
    assert [t.line for t in build_transit(transit_card(), trips).trips] == ["later", "earlier"]


def test_sort_is_stable_for_ties() -> None:
    visits = [
        visit("2026-01-05", "first"),
        visit("2026-02-01", "newest"),
        visit("2026-01-05", "second"),
        visit("2026-01-05", "third"),
    ]
    facilities = [v.facility for v in build_health(resident(), visits).visits]
    assert facilities == ["newest", "first", "second", "third"]


def test_contributions_newest_first() -> None:
    rows = [contribution("202401"), contribution("202403"), contribution("202312")]
    periods = [c.period for c in build_social_security(insured(["YL"]), rows).contributions]
    assert periods == ["2024-03", "2024-01", "2023-12"]


def test_ascending_order_when_asked() -> None:
    data = json.loads(builtin_manifest("health").secret_json())
    data["mapping"]["lists"]["visits"]["order"] = "asc"
    section = compile_section(from_data(data)).build(
        {"resident": resident()},
        {"visits": [visit("2026-02-01", "b"), visit("2026-01-01", "a")], "vaccinations": []},
        META,
    )
    assert [v.facility for v in section.visits] == ["a", "b"]


def test_empty_lists() -> None:
    section = build_library(loans=[], holds=[])
    assert section.loans == ()
    assert section.reservations == ()


def test_meta_is_passed_through() -> None:
    assert build_library().meta is META


# --- path_reader -----------------------------------------------------------------------------------


def test_path_reader_reads_nested_values() -> None:
    assert path_reader("a.b.c")({"a": {"b": {"c": 3}}}) == 3


def test_path_reader_names_the_missing_path() -> None:
    with pytest.raises(ValueError, match=r"missing field 'a\.b'"):
        path_reader("a.b.c")({"a": {}})


def test_path_reader_names_where_an_object_was_expected() -> None:
    with pytest.raises(ValueError, match=r"expected an object at 'a\.b', got int"):
        path_reader("a.b.c")({"a": {"b": 3}})


def test_path_reader_at_the_root() -> None:
    with pytest.raises(ValueError, match="expected an object at 'the answer', got list"):
        path_reader("a")([{"a": 1}])


def test_path_reader_null_on_the_way() -> None:
    assert path_reader("a.b.c", nullable=True)({"a": None}) is None
    with pytest.raises(ValueError, match="expected an object at 'a', got NoneType"):
        path_reader("a.b.c")({"a": None})


def test_nullable_path_reader_still_needs_the_keys() -> None:
    with pytest.raises(ValueError, match="missing field 'a'"):
        path_reader("a.b", nullable=True)({})


# --- the docs table ------------------------------------------------------------------------------------


def test_fields_table_lists_items_too() -> None:
    table = dict(fields_table("transit"))
    assert table["balance"] == "Decimal"
    assert table["trips"] == "list of Trip"
    assert table["trips[].mode"] == "TripMode"
    assert table["trips[].exit_stop"] == "str or null"


def test_integer_codes_map_through_text_keys_and_numbers_read_as_text() -> None:
    # TOML keys are text: an agency sending concession code 2 is mapped with "2" = "SENIOR".
    data = json.loads(builtin_manifest("transit").secret_json())
    data["mapping"]["fields"]["concession"]["enum"] = {"1": "NONE", "2": "SENIOR"}
    section = compile_section(from_data(data))
    transit = section.build({"card": transit_card(concession=2, cardNumber=12345678)}, {"trips": []}, META)
    assert transit.concession is Concession.SENIOR
    assert transit.card_number == "12345678"
    with pytest.raises(ValueError, match="concession"):
        section.build({"card": transit_card(concession=True)}, {"trips": []}, META)  # true is not code 1
