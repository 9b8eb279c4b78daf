"""The export job: one running job per citizen, a daily limit, and a download link used once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import export

ALICE = "350200000001"


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    async with tortoise_test_context(["auth.export"]) as ctx:
        yield ctx


async def test_asking_again_while_one_runs_returns_it(db: TortoiseContext) -> None:
    first = await export.request(ALICE, "app", per_day=3)
    assert (await export.request(ALICE, "app", per_day=3)).id == first.id
    taken = await export.take_next()
    assert taken is not None and taken.id == first.id and await export.take_next() is None  # one worker gets it
    assert (await export.request(ALICE, "app", per_day=3)).id == first.id  # running: still the same


async def test_at_most_per_day_exports_in_24_hours(db: TortoiseContext) -> None:
    now = datetime.now(UTC)
    for hours in (20, 10):
        job = await export.request(ALICE, "app", per_day=2, now=now - timedelta(hours=hours))
        await export.finish(job, b"zip")
    with pytest.raises(export.ExportRateLimited) as limited:
        await export.request(ALICE, "app", per_day=2, now=now)
    assert 4 * 3600 - 5 <= limited.value.retry_after <= 4 * 3600  # when the one of 20 hours ago turns 24
    assert (await export.request(ALICE, "app", per_day=2, now=now + timedelta(hours=5))).citizen == ALICE


async def test_a_download_link_works_once_and_not_after_its_lifetime(db: TortoiseContext) -> None:
    job = await export.request(ALICE, "app", per_day=3)
    assert await export.link(job, timedelta(minutes=5)) is None  # not done yet
    await export.finish(job, b"the archive")
    job = await export.ExportJob.get(id=job.id)
    minted = await export.link(job, timedelta(minutes=5))
    assert minted is not None
    token = minted[0].split("token=")[1]
    assert (await export.claim(job.id, token))[1] == b"the archive"
    with pytest.raises(export.ExportLinkInvalid):
        await export.claim(job.id, token)  # used
    expired = await export.link(job, timedelta(seconds=-1))
    assert expired is not None
    with pytest.raises(export.ExportLinkInvalid):
        await export.claim(job.id, expired[0].split("token=")[1])
    replaced = await export.link(job, timedelta(minutes=5))
    newer = await export.link(job, timedelta(minutes=5))
    assert replaced is not None and newer is not None
    with pytest.raises(export.ExportLinkInvalid):
        await export.claim(job.id, replaced[0].split("token=")[1])  # a new link replaces the one before
    with pytest.raises(export.ExportLinkInvalid):
        await export.claim("not-a-uuid", "x")


async def test_finished_archives_are_wiped_after_their_keeping_time(db: TortoiseContext) -> None:
    job = await export.request(ALICE, "app", per_day=3)
    await export.finish(job, b"zip")
    await export.ExportJob.filter(id=job.id).update(finished_at=datetime.now(UTC) - timedelta(hours=2))
    assert await export.wipe_expired(timedelta(hours=1)) == 1
    wiped = await export.ExportJob.get(id=job.id)
    assert wiped.status is export.ExportStatus.EXPIRED and wiped.archive is None
