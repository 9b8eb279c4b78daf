"""A data export for a persona with every section: the JSON checked field by field against the
agencies' own records, the PDF's text (pdftotext) in Chinese and English, and the reads audited."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from auth.audit import AuditRecord
from auth.export import ExportJob
from hub.export import ExportBuilder
from hub.export_pdf import font_file
from sandbox.agencies import library_data, transit_data
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

EVERYTHING = PERSONAS[0]  # "Typical working adult with every card and a housing loan"


async def exported(hub: RunningHub) -> tuple[dict[str, Any], zipfile.ZipFile, ExportJob]:
    rights = hub.app.state.rights
    builder = ExportBuilder(hub.app.state.connectors, rights.receipts)
    job = ExportJob(id=str(uuid.uuid4()), citizen=EVERYTHING.card_number, requested_by="tests-export",
                    created_at=datetime.now(UTC))  # fmt: skip
    archive = zipfile.ZipFile(io.BytesIO(await builder.build(job)))
    return json.loads(archive.read("export.json")), archive, job


async def test_the_json_holds_every_section_as_the_agencies_hold_it(hub: RunningHub) -> None:
    document, _, job = await exported(hub)
    assert document["format"] == "cardhub-export/1"
    assert document["citizen"] == {"card_number": EVERYTHING.card_number, "name": EVERYTHING.name}
    sections = document["sections"]
    assert set(sections) == {"social_security", "transit", "health", "housing_fund", "library"}
    for agency, section in sections.items():
        assert section["source"] == agency and section["data"] is not None, agency
        assert datetime.fromisoformat(section["read_at"]) <= datetime.now(UTC)

    card = transit_data.card_for_citizen(EVERYTHING.card_number)
    assert card is not None
    transit = sections["transit"]["data"]
    assert Decimal(transit["balance"]) == Decimal(card.balance_fen) / 100
    assert transit["concession"] == {"ADULT": "NONE"}.get(card.concession, card.concession)  # no concession
    assert len(transit["trips"]) == len(card.trips)
    for mine, theirs in zip(transit["trips"], card.trips, strict=True):
        assert (mine["line"], mine["entry_stop"], mine["exit_stop"]) == (
            theirs.line,
            theirs.entry_stop,
            theirs.exit_stop,
        )
        assert Decimal(mine["fare"]) == Decimal(theirs.fare_fen) / 100
        assert mine["mode"] == {"BRT": "BUS"}.get(theirs.mode, theirs.mode)  # the hub counts BRT as bus

    patron = library_data.patron_for_card(EVERYTHING.card_number)
    assert patron is not None
    library = sections["library"]["data"]
    assert [loan["title"] for loan in library["loans"]] == [loan.title for loan in patron.loans]
    assert [loan["due_date"] for loan in library["loans"]] == [str(loan.due_on) for loan in patron.loans]

    # Every read of the export is in the citizen's access log, under the export's request id.
    audited = await AuditRecord.filter(request_id=f"export-{job.id}")
    assert {s for r in audited for s in r.sections.split(",")} == {f"export.{a}" for a in sections}
    assert {r.client_id for r in audited} == {"tests-export"}


async def test_consents_carry_their_history_and_receipts_and_the_log_its_entries(hub: RunningHub) -> None:
    await hub.consent(EVERYTHING.card_number, ["transit"], client="export-test-app")
    await hub.graphql("{ me { transit { balance } } }", await hub.token(EVERYTHING.card_number))
    document, _, _ = await exported(hub)
    [app] = [c for c in document["consents"] if c["client_id"] == "export-test-app"]
    assert app["status"] == "ACTIVE" and "transit" in app["scopes"]
    assert app["history"][0]["action"] == "GRANTED" and app["history"][0]["receipt"].count(".") == 2
    log = document["access_log"]
    assert any(e["sections"] == ["transit"] and e["outcome"] == "ALLOWED" for e in log)
    for entry in log:
        assert entry["record"]["citizen"] == EVERYTHING.card_number
        assert entry["proof"] is None or {"leaf_index", "tree_size", "proof", "checkpoint"} <= set(entry["proof"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (Debian poppler-utils) is not installed")
@pytest.mark.skipif(font_file() is None, reason="no CJK font (Debian fonts-wqy-microhei) is installed")
async def test_the_pdf_reads_in_chinese_and_english(hub: RunningHub, tmp_path: Path) -> None:
    document, archive, _ = await exported(hub)
    pdf = tmp_path / "export.pdf"
    pdf.write_bytes(archive.read("export.pdf"))
    pdftotext = ["pdftotext", "-enc", "UTF-8", str(pdf), "-"]
    text = (await asyncio.to_thread(subprocess.run, pdftotext, capture_output=True, text=True, check=True)).stdout
    for expected in ("个人数据副本", "Copy of my personal data", EVERYTHING.name, EVERYTHING.card_number,
                     "公共交通 / Transit", "住房公积金 / Housing fund", "授权记录 / Consents", "访问记录 / Access log",
                     document["sections"]["transit"]["data"]["balance"]):  # fmt: skip
        assert expected in text, expected
