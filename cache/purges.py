"""Purge requests, through the database, so that `cardhub cache purge` reaches every hub process.

A process's in-memory cache is out of reach of a command run elsewhere: the command records a
purge here, and every hub applies the ones it has not seen at its next poll (connector_poll_seconds).
With Redis the command also purges the shared cache at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise import fields
from tortoise.models import Model

from cache.sections import SectionCache


class CachePurge(Model):
    id = fields.IntField(primary_key=True)
    section = fields.CharField(max_length=40, null=True)  # None: every section
    requested_by = fields.CharField(max_length=80)
    requested_at = fields.DatetimeField()

    class Meta:
        table = "cache_purge"


async def request(section: str | None, by: str) -> CachePurge:
    return await CachePurge.create(section=section, requested_by=by, requested_at=datetime.now(UTC))


class PurgeFollower:
    """Applies the purges recorded since this process started (cache/source.py calls it each poll)."""

    def __init__(self) -> None:
        self._seen: int | None = None

    async def apply(self, cache: SectionCache | None) -> int:
        """Apply new purges to ``cache``, the one requests use now; return how many."""
        if self._seen is None:  # older purges were for caches that no longer exist
            latest = await CachePurge.all().order_by("-id").first()
            self._seen = latest.id if latest else 0
            return 0
        new = await CachePurge.filter(id__gt=self._seen).order_by("id")
        for purge in new:
            if cache is not None and purge.section is None:
                await cache.purge()
            elif cache is not None and purge.section is not None:
                await cache.forget_section(purge.section)
            self._seen = purge.id
        return len(new)
