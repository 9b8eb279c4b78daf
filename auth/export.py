"""A citizen's copy of everything held about them (PIPL article 45): the export job and its download.

Asked for on ``/me`` or with ``requestDataExport`` (the city's own app), an export is a job in the
database, done by any hub instance's worker (``hub/export.py``): so it survives the instance that
took the request, and its progress shows on every instance. While one of a citizen's jobs is queued
or running, asking again returns that job. At most ``per_day`` jobs per citizen are started in any
24 hours (``ExportRateLimited``, with the time to wait).

The archive is kept ``keep_seconds`` after it is done, then wiped. It is fetched through a download
link that is single-use and short-lived: each link is minted when the citizen looks at the finished
job (``link``), replaces the one before, lives ``link_seconds``, and is used up by the download that
presents it (``claim``). Only the link's hash is stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth.registry import Citizen

DOWNLOAD_PATH = "/me/export/{job_id}/download"


class ExportStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"  # done, and its archive wiped


class ExportError(ValueError):
    code = "EXPORT_FAILED"


class ExportRateLimited(ExportError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many exports in 24 hours: try again in {retry_after} s")
        self.retry_after = retry_after


class ExportLinkInvalid(ExportError):
    """Unknown, used, expired, or another job's link: one answer for all."""

    code = "EXPORT_LINK_INVALID"


class ExportJob(Model):
    id = fields.CharField(max_length=36, primary_key=True)  # a UUID: not guessable, not countable
    citizen = fields.CharField(max_length=20)
    status = fields.CharEnumField(ExportStatus, max_length=16, default=ExportStatus.QUEUED)
    progress = fields.IntField(default=0)  # percent
    step = fields.CharField(max_length=64, default="")  # what it is doing now, e.g. "transit"
    requested_by = fields.CharField(max_length=64)  # the client (or the pages) that asked
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    error = fields.TextField(default="")
    archive = fields.BinaryField(null=True)  # the zip: export.json and export.pdf
    link_hash = fields.CharField(max_length=64, null=True)
    link_expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "export_job"
        # A citizen's jobs, newest first: the running one, the rate limit, the latest for /me.
        indexes = (Index(fields=("citizen", "created_at"), name="export_job_citizen_created"),)

    @property
    def active(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class ExportPolicy:
    per_day: int = 3  # jobs a citizen may start in any 24 hours
    link_seconds: int = 300  # a download link lives this long

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(seconds=self.link_seconds)


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()


async def request(citizen: str, requested_by: str, per_day: int, now: datetime | None = None) -> ExportJob:
    """The citizen's running job, else a new one; ExportRateLimited past ``per_day`` in 24 hours."""
    now = now or _now()
    async with in_transaction() as connection:
        # One request per citizen at a time (the citizen's registry row, locked), so two asked together
        # get the same job, never two: checking, then inserting, is a race otherwise.
        await Citizen.select_for_update().using_db(connection).filter(card_number=citizen).first()
        active = (ExportStatus.QUEUED, ExportStatus.RUNNING)
        running = await ExportJob.filter(citizen=citizen, status__in=active).using_db(connection).first()
        if running is not None:
            return running
        day = now - timedelta(days=1)
        recent = await ExportJob.filter(citizen=citizen, created_at__gt=day).using_db(connection).order_by("created_at")
        if len(recent) >= per_day:
            oldest = recent[-per_day]
            raise ExportRateLimited(max(1, int((oldest.created_at + timedelta(days=1) - now).total_seconds())))
        return await ExportJob.create(
            id=str(uuid.uuid4()), citizen=citizen, requested_by=requested_by, created_at=now, using_db=connection
        )


async def latest(citizen: str) -> ExportJob | None:
    return await ExportJob.filter(citizen=citizen).order_by("-created_at").first()


async def find(citizen: str, job_id: str) -> ExportJob | None:
    """One of the citizen's own jobs; another citizen's is None, like a missing one."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        return None
    return await ExportJob.get_or_none(id=job_id, citizen=citizen)


async def take_next(now: datetime | None = None) -> ExportJob | None:
    """Claim the oldest queued job for this worker (atomic: one instance gets it)."""
    for job in await ExportJob.filter(status=ExportStatus.QUEUED).order_by("created_at").limit(5):
        taken = await ExportJob.filter(id=job.id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.RUNNING, started_at=now or _now()
        )
        if taken:
            return await ExportJob.get(id=job.id)
    return None


async def report(job: ExportJob, progress: int, step: str) -> None:
    job.progress, job.step = progress, step
    await ExportJob.filter(id=job.id).update(progress=progress, step=step[:64])


async def finish(job: ExportJob, archive: bytes) -> None:
    await ExportJob.filter(id=job.id).update(
        status=ExportStatus.DONE, progress=100, step="", archive=archive, finished_at=_now()
    )


async def fail(job: ExportJob, error: str) -> None:
    await ExportJob.filter(id=job.id).update(status=ExportStatus.FAILED, error=error[:500], finished_at=_now())


async def requeue_stalled(older_than: timedelta) -> int:
    """Jobs left RUNNING by an instance that stopped: queued again."""
    return await ExportJob.filter(status=ExportStatus.RUNNING, started_at__lt=_now() - older_than).update(
        status=ExportStatus.QUEUED, progress=0, step=""
    )


async def wipe_expired(keep: timedelta) -> int:
    return await ExportJob.filter(status=ExportStatus.DONE, finished_at__lt=_now() - keep).update(
        status=ExportStatus.EXPIRED, archive=None, link_hash=None, link_expires_at=None
    )


async def link(job: ExportJob, lifetime: timedelta) -> tuple[str, datetime] | None:
    """A fresh single-use download link for a finished job (the path with its token), and its expiry."""
    if job.status is not ExportStatus.DONE:
        return None
    token = secrets.token_urlsafe(32)
    expires = _now() + lifetime
    await ExportJob.filter(id=job.id).update(link_hash=_hash(token), link_expires_at=expires)
    return f"{DOWNLOAD_PATH.format(job_id=job.id)}?token={token}", expires


async def claim(job_id: str, token: str) -> tuple[ExportJob, bytes]:
    """The archive, once per link: the link is used up before the archive leaves."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise ExportLinkInvalid("this download link is not valid (used, expired or unknown)") from None
    job = await ExportJob.get_or_none(id=job_id)
    now = _now()
    valid = (
        job is not None and job.status is ExportStatus.DONE and job.link_hash is not None
        and job.link_expires_at is not None and job.link_expires_at > now
        and hmac.compare_digest(job.link_hash, _hash(token))
    )  # fmt: skip
    # Used up atomically: of two downloads racing with one link, one gets it.
    if not valid or job is None or job.archive is None:
        raise ExportLinkInvalid("this download link is not valid (used, expired or unknown)")
    used = await ExportJob.filter(id=job.id, link_hash=job.link_hash).update(link_hash=None, link_expires_at=None)
    if not used:
        raise ExportLinkInvalid("this download link is not valid (used, expired or unknown)")
    return job, bytes(job.archive)
