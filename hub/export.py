"""Doing a citizen's data export (the job is ``auth/export.py``): read, assemble, sign, archive.

The archive is a zip of ``export.json`` (``FORMAT``) and ``export.pdf`` (the same, readable, in
Chinese and English: ``hub/export_pdf.py``). ``export.json`` holds:

- ``citizen``: the card registry's record;
- ``sections``: every agency section read fresh from the agency for this export (never from the
  cache), each with ``source`` (the agency) and ``read_at``, or the ``error`` the agency gave;
- ``consents``: every consent with its full history and each entry's signed receipt;
- ``access_log``: every entry of the citizen's access log (up to ``MAX_LOG``), each with its
  inclusion proof (``auth.audit.access_log.inclusion``) where the log has sequenced it under a
  signed checkpoint, else ``proof`` null.

The reads are written to the citizen's access log like any other (``export.<section>``, client the
one that asked), so the export itself shows up in the next one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import io
import json
import logging
import zipfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from auth import clients, consent, export
from auth.audit import AuditRecord, Decision, Outcome, append
from auth.audit.access_log import inclusion
from auth.audit.checkpoints import AuditCheckpoint
from auth.consent import ConsentEvent
from auth.receipts import ReceiptIssuer
from auth.registry import find_citizen
from connectors.base import Connector
from connectors.errors import AgencyError
from hub import export_pdf
from hub.periodic import Periodic

log = logging.getLogger("cardhub.export")

FORMAT = "cardhub-export/1"
MAX_LOG = 10_000


class ExportBuilder:
    def __init__(self, connectors: Mapping[str, Connector], receipts: ReceiptIssuer, font_file: str = "") -> None:
        self.connectors = connectors
        self.receipts = receipts
        self.font = export_pdf.font_file(font_file)
        if self.font is None:
            log.error("no CJK font found (export_font_file, or Debian fonts-wqy-microhei): exports have no PDF")

    async def build(self, job: export.ExportJob) -> bytes:
        document = await self.document(job)
        await export.report(job, 90, "pdf")
        pdf = await asyncio.to_thread(export_pdf.render, document, self.font)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("export.json", json.dumps(document, ensure_ascii=False, indent=2))
            if pdf is not None:
                archive.writestr("export.pdf", pdf)
        return buffer.getvalue()

    async def document(self, job: export.ExportJob) -> dict[str, Any]:
        citizen = job.citizen
        record = await find_citizen(citizen)
        sections: dict[str, Any] = {}
        agencies = sorted(self.connectors)
        for position, agency in enumerate(agencies):
            await export.report(job, 10 + 60 * position // max(len(agencies), 1), agency)
            sections[agency] = await self._section(self.connectors[agency], citizen)
        await append(
            f"export-{job.id}",
            job.requested_by,
            [Decision(citizen, f"export.{agency}", Outcome.ALLOWED) for agency in agencies],
        )
        await export.report(job, 75, "consents")
        consents = await self._consents(citizen)
        await export.report(job, 85, "access_log")
        return {
            "format": FORMAT,
            "generated_at": _iso(datetime.now(UTC)),
            "citizen": {"card_number": citizen, "name": record.name if record else ""},
            "sections": sections,
            "consents": consents,
            "access_log": await _access_log(citizen),
        }

    async def _section(self, connector: Connector, citizen: str) -> dict[str, Any]:
        read_at = datetime.now(UTC)
        try:
            section = await connector.fetch(citizen)
        except AgencyError as exc:
            return {"source": connector.agency, "read_at": _iso(read_at), "error": {"code": exc.code,
                    "message": exc.message}}  # fmt: skip
        if section is None:
            return {"source": connector.agency, "read_at": _iso(read_at), "data": None}
        data = _plain(section)
        meta = data.pop("meta", {}) if isinstance(data, dict) else {}
        return {"source": meta.get("source", connector.agency), "read_at": meta.get("fetched_at", _iso(read_at)),
                "data": data}  # fmt: skip

    async def _consents(self, citizen: str) -> list[dict[str, Any]]:
        records = await consent.for_citizen(citizen)
        ids = {c.client_id for c in records}
        names = {c.client_id: c.name for c in await clients.Client.filter(client_id__in=ids)} if ids else {}
        found = []
        for c in records:
            name = names.get(c.client_id, c.client_id)
            history = await ConsentEvent.filter(consent_id=c.id).order_by("id")
            found.append({
                "id": str(c.id), "client_id": c.client_id, "client_name": name, "purpose": c.purpose,
                "status": c.status.value, "granted_at": _iso(c.granted_at), "expires_at": _iso(c.expires_at),
                "scopes": sorted(c.scopes), "withdrawn_scopes": sorted(c.revoked_scopes),
                "history": [{"at": _iso(e.at), "action": e.action, "scopes": sorted(e.scope.split()),
                             "receipt": self.receipts.issue(c, e, name).token} for e in history],
            })  # fmt: skip
        return found


async def _access_log(citizen: str) -> list[dict[str, Any]]:
    records = await AuditRecord.filter(citizen=citizen).order_by("id").limit(MAX_LOG)
    checkpoint = await AuditCheckpoint.all().order_by("-tree_size").first()
    entries = []
    for r in records:
        proof = await inclusion(r, checkpoint) if checkpoint is not None else None
        entries.append({
            "at": _iso(r.at), "client_id": r.client_id, "sections": r.sections.split(","), "outcome": r.outcome,
            "reason": r.reason, "request_id": r.request_id, "record": r.fields(),
            "proof": proof.bundle() if proof is not None else None,
        })  # fmt: skip
    return entries


def _plain(value: Any) -> Any:
    """Domain dataclasses as JSON values: decimals and dates as strings, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


class ExportWorker(Periodic):
    name = "cardhub-export"

    """Every hub instance takes queued exports, one at a time, every ``interval`` seconds."""

    def __init__(self, builder: ExportBuilder, *, interval_seconds: float = 1.0, keep_seconds: float = 3600) -> None:
        self.builder = builder
        self.interval = interval_seconds
        self.keep = timedelta(seconds=keep_seconds)
        super().__init__()

    async def round(self) -> None:
        while await self.run_once() is not None:
            pass

    async def run_once(self) -> export.ExportJob | None:
        await export.wipe_expired(self.keep)
        await export.requeue_stalled(timedelta(minutes=10))
        job = await export.take_next()
        if job is None:
            return None
        try:
            await export.finish(job, await self.builder.build(job))
        except Exception as exc:  # one citizen's export failing must not stop the others'
            log.exception("export %s failed", job.id)
            await export.fail(job, f"{type(exc).__name__}")
        return job
