"""HousingFundConnector against the running housing fund stand-in, over real HTTP (no mocks)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import Connector
from connectors.domain import HousingFund, LoanStatus
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyTimeout, AgencyUnavailable
from connectors.mapping import compile_section
from connectors.registry import builtin_connector, builtin_manifest
from sandbox import runner
from sandbox.agencies.housing_fund_data import LOAN_REPAYING, LOAN_SETTLED, account_for
from sandbox.clock import today
from sandbox.personas import (
    EMPLOYER_CHANGE,
    HOUSING_LOAN,
    HOUSING_NEGATIVE_BALANCE,
    NO_HOUSING_FUND,
    PERSONAS,
    UNEMPLOYED,
    Persona,
)

AGENCY = "housing_fund"
ConnectorFactory = Callable[..., Awaitable[Connector]]  # the make_connector fixture


def with_trait(trait: str) -> list[Persona]:
    return [p for p in PERSONAS if p.has(trait)]


def recorded_loan_count(persona: Persona) -> int:
    record = account_for(persona.card_number)
    return 0 if record is None else len(record.loans)


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


async def fund_of(make_connector: ConnectorFactory, persona: Persona, **kwargs: Any) -> HousingFund:
    connector = await make_connector(AGENCY, **kwargs)
    fund = await connector.fetch(persona.card_number)
    assert isinstance(fund, HousingFund)
    return fund


def control(sandbox: runner.Sandbox, path: str, method: str = "GET") -> Any:
    req = urllib.request.Request(sandbox.url(AGENCY) + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("persona", [p for p in PERSONAS if not p.has(NO_HOUSING_FUND)], ids=lambda p: p.username)
async def test_maps_every_account_as_the_centre_records_it(make_connector: ConnectorFactory, persona: Persona) -> None:
    record = account_for(persona.card_number)
    assert record is not None
    fund = await fund_of(make_connector, persona)
    assert fund.account_number == record.account_no
    assert fund.balance == yuan(record.balance_fen)
    assert fund.monthly_deposit == yuan(record.personal_deposit_fen + record.employer_deposit_fen)
    assert fund.employer == persona.employer
    assert [(loan.loan_number, loan.principal, loan.outstanding, loan.monthly_repayment) for loan in fund.loans] == [
        (r.loan_no, yuan(r.principal_fen), yuan(r.outstanding_fen), yuan(r.monthly_repayment_fen)) for r in record.loans
    ]
    assert [(loan.start_date, loan.end_date) for loan in fund.loans] == [(r.start, r.end) for r in record.loans]
    for amount in (fund.balance, fund.monthly_deposit, *(loan.outstanding for loan in fund.loans)):
        assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2
    assert fund.meta.source == AGENCY


@pytest.mark.parametrize("persona", with_trait(HOUSING_NEGATIVE_BALANCE), ids=lambda p: p.username)
async def test_negative_balance(make_connector: ConnectorFactory, persona: Persona) -> None:
    fund = await fund_of(make_connector, persona)
    assert fund.balance < 0
    assert fund.monthly_deposit > 0  # still employed: the correction does not stop deposits


@pytest.mark.parametrize("persona", with_trait(UNEMPLOYED), ids=lambda p: p.username)
async def test_unemployed_has_no_employer_and_no_deposit(make_connector: ConnectorFactory, persona: Persona) -> None:
    fund = await fund_of(make_connector, persona)
    assert fund.employer is None
    assert fund.monthly_deposit == Decimal("0.00")
    assert fund.balance > 0  # a sealed account keeps its money


@pytest.mark.parametrize("persona", with_trait(EMPLOYER_CHANGE), ids=lambda p: p.username)
async def test_employer_change_shows_the_current_employer(make_connector: ConnectorFactory, persona: Persona) -> None:
    fund = await fund_of(make_connector, persona)
    assert fund.employer == persona.employer
    assert fund.employer != persona.previous_employer
    assert fund.monthly_deposit > 0


@pytest.mark.parametrize("persona", with_trait(HOUSING_LOAN), ids=lambda p: p.username)
async def test_housing_loan(make_connector: ConnectorFactory, persona: Persona) -> None:
    fund = await fund_of(make_connector, persona)
    active = [loan for loan in fund.loans if loan.status is LoanStatus.ACTIVE]
    assert len(active) == 1
    loan = active[0]
    assert 0 < loan.outstanding < loan.principal
    assert loan.start_date < today() < loan.end_date
    assert 0 < loan.monthly_repayment < loan.principal
    for settled in fund.loans:
        if settled is loan:
            continue
        assert settled.status is LoanStatus.PAID_OFF
        assert settled.outstanding == 0 and settled.end_date <= loan.start_date
    assert [x.start_date for x in fund.loans] == sorted((x.start_date for x in fund.loans), reverse=True)


async def test_some_borrower_also_has_a_settled_loan(make_connector: ConnectorFactory) -> None:
    statuses = [{loan.status for loan in (await fund_of(make_connector, p)).loans} for p in with_trait(HOUSING_LOAN)]
    assert any(LoanStatus.PAID_OFF in s for s in statuses)


async def test_no_loan_trait_means_no_loans(make_connector: ConnectorFactory) -> None:
    persona = next(p for p in PERSONAS if not p.has(HOUSING_LOAN) and not p.has(NO_HOUSING_FUND))
    assert (await fund_of(make_connector, persona)).loans == ()


@pytest.mark.parametrize("card", [p.card_number for p in with_trait(NO_HOUSING_FUND)] + ["350299999999"])
async def test_no_account_gives_none(make_connector: ConnectorFactory, card: str) -> None:
    connector = await make_connector(AGENCY)
    assert await connector.fetch(card) is None


async def test_walks_every_loan_page(make_connector: ConnectorFactory, sandbox: runner.Sandbox) -> None:
    persona = max(with_trait(HOUSING_LOAN), key=recorded_loan_count)
    whole = await fund_of(make_connector, persona)
    assert len(whole.loans) >= 2
    connector = await make_connector(AGENCY, page_size=1)
    control(sandbox, "/_sandbox/stats/reset", "POST")
    paged = await connector.fetch(persona.card_number)
    assert isinstance(paged, HousingFund)
    assert paged.loans == whole.loans
    loan_calls = [i for i in control(sandbox, "/_sandbox/stats")["intervals"] if i["path"].endswith("/loans")]
    assert len(loan_calls) == len(whole.loans)


async def test_account_and_loans_are_fetched_concurrently(
    make_connector: ConnectorFactory, sandbox: runner.Sandbox
) -> None:
    connector = await make_connector(AGENCY, headers={"X-Sandbox-Fault": "latency=150"})
    control(sandbox, "/_sandbox/stats/reset", "POST")
    await connector.fetch(with_trait(HOUSING_LOAN)[0].card_number)
    calls = {i["path"].rsplit("/", 1)[-1]: i for i in control(sandbox, "/_sandbox/stats")["intervals"]}
    account, loans = calls[with_trait(HOUSING_LOAN)[0].card_number], calls["loans"]
    assert account["start"] < loans["end"] and loans["start"] < account["end"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [("error=503", AgencyUnavailable), ("drop", AgencyUnavailable), ("garbage", AgencyBadResponse)],
)
async def test_faults_become_typed_errors(make_connector: ConnectorFactory, fault: str, error: type[Exception]) -> None:
    connector = await make_connector(AGENCY, headers={"X-Sandbox-Fault": fault})
    with pytest.raises(error):
        await connector.fetch(PERSONAS[0].card_number)


async def test_hang_becomes_timeout(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY, timeout_seconds=0.5, headers={"X-Sandbox-Fault": "hang"})
    with pytest.raises(AgencyTimeout):
        await connector.fetch(PERSONAS[0].card_number)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"error_status": 503}, AgencyUnavailable),
        ({"drop": True}, AgencyUnavailable),
        ({"hang": True}, AgencyTimeout),
        ({"garbage": True}, AgencyBadResponse),
    ],
)
async def test_faults_on_data_calls_with_a_valid_token(
    make_connector: ConnectorFactory,
    clear_faults: Callable[..., None],
    fault: dict[str, Any],
    error: type[Exception],
) -> None:
    # The header faults above already hit the token endpoint; here the token is cached first, so
    # the fault lands on the account and loan calls themselves.
    connector = await make_connector(AGENCY, timeout_seconds=0.5)
    assert await connector.fetch(PERSONAS[0].card_number) is not None
    clear_faults(AGENCY, **fault)
    with pytest.raises(error):
        await connector.fetch(PERSONAS[0].card_number)


async def test_wrong_credentials(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY, secret="not-the-secret")
    with pytest.raises(AgencyAuthFailed):
        await connector.fetch(PERSONAS[0].card_number)


async def test_malformed_card_number_is_a_bad_response(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY)
    with pytest.raises(AgencyBadResponse):
        await connector.fetch("not-a-card")


async def test_only_account_not_found_means_no_account(sandbox: runner.Sandbox) -> None:
    # A 404 for a path the centre does not serve (say, a misspelt resource) is a fault, not "no account".
    resources = builtin_manifest(AGENCY).model_dump(mode="json", by_alias=True, exclude_none=True)["resources"]
    resources["account"]["path"] = "/gjj/openapi/v0/accounts/{card_number}"
    connector = builtin_connector(AGENCY, sandbox.configs()[AGENCY], resources=resources)
    await connector.client.start()
    try:
        with pytest.raises(AgencyBadResponse):
            await connector.fetch(PERSONAS[0].card_number)
    finally:
        await connector.client.close()


loan_from_wire = compile_section(builtin_manifest(AGENCY)).lists["loans"].build_item


def wire_loan(**overrides: object) -> dict[str, object]:
    loan: dict[str, object] = {
        "loanNo": "XMGJJ2020",
        "loanAmount": "500000.00",
        "outstandingPrincipal": "420000.00",
        "monthlyRepayment": "2100.50",
        "startDate": "2020/03/15",
        "endDate": "2050/03/15",
        "loanStatus": LOAN_REPAYING,
    }
    return {**loan, **overrides}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(LOAN_REPAYING, LoanStatus.ACTIVE), (LOAN_SETTLED, LoanStatus.PAID_OFF), ("IN_ARREARS", LoanStatus.OVERDUE)],
)
def test_loan_status_vocabulary(status: str, expected: LoanStatus) -> None:
    # No persona is in arrears, so this one word is checked on a hand-written wire record.
    assert loan_from_wire(wire_loan(loanStatus=status)).status is expected


@pytest.mark.parametrize(
    "override",
    [
        {"loanStatus": "DEFAULTED"},
        {"loanAmount": 500000.0},
        {"outstandingPrincipal": "1.005"},
        {"startDate": "2020-03-15"},
        {"loanNo": None},
    ],
)
def test_bad_loan_values_are_refused(override: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        loan_from_wire(wire_loan(**override))
