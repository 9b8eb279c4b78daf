"""A citizen's data export as GraphQL shows it (``me { export }``, ``requestDataExport``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from auth import export
from auth.export import ExportJob

strawberry.enum(
    export.ExportStatus,
    description="QUEUED and RUNNING: being made (see `progress`). DONE: ready, fetch it at `downloadUrl`. "
    "FAILED: ask again. EXPIRED: done, and wiped after its keeping time.",
)


@strawberry.type(description="One export of everything the hub holds about the citizen (a zip: JSON and PDF).")
class DataExport:
    id: strawberry.ID
    status: export.ExportStatus
    progress: int = strawberry.field(description="Percent done.")
    step: str = strawberry.field(description="What it is reading now: an agency, consents, access_log, pdf.")
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = strawberry.field(
        description="A path on the hub, valid once and for a few minutes; a new one each time you ask. Null until DONE."
    )
    download_expires_at: datetime | None

    @classmethod
    async def from_job(cls, job: ExportJob, link_lifetime: timedelta | None) -> DataExport:
        minted = await export.link(job, link_lifetime) if link_lifetime is not None else None
        return cls(
            id=strawberry.ID(job.id),
            status=job.status,
            progress=job.progress,
            step=job.step,
            created_at=job.created_at,
            finished_at=job.finished_at,
            download_url=minted[0] if minted else None,
            download_expires_at=minted[1] if minted else None,
        )
