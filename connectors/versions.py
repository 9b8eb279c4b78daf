"""Every manifest version an agency registered, and which one is in force.

A version is never changed or deleted: registering adds one, rollback and disable only move the
``ConnectorState`` pointer, in one transaction. ``generation`` counts the changes of a state row so
every hub process can see cheaply that it must rebuild that connector (``connectors.live``).
The stored manifest holds the agency's secret: the database is where the hub keeps it; nothing
read from here is printed or returned with its secret (``Manifest.secret_free``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from connectors.manifest import Manifest, ManifestError
from connectors.manifest_parsing import from_data

BUILTIN = "builtin"  # registered_by of the manifests shipped with the hub


class ConnectorVersion(Model):
    id = fields.IntField(primary_key=True)
    agency = fields.CharField(max_length=40)  # by agency: the unique (agency, version) index below
    version = fields.IntField()
    section = fields.CharField(max_length=40)
    manifest = fields.TextField()  # JSON, secret included
    digest = fields.CharField(max_length=64)  # sha256 of the manifest without its secret
    registered_by = fields.CharField(max_length=80)  # a client id, "cli", or "builtin"
    registered_at = fields.DatetimeField()

    class Meta:
        table = "connector_version"
        unique_together = (("agency", "version"),)

    def parsed(self) -> Manifest:
        return from_data(json.loads(self.manifest))


class ConnectorState(Model):
    agency = fields.CharField(max_length=40, primary_key=True)
    section = fields.CharField(max_length=40, db_index=True)  # serving(): the connector of a section
    version = fields.IntField()  # the version in force (or last in force, when disabled)
    enabled = fields.BooleanField(default=True)
    generation = fields.IntField(default=1)
    changed_by = fields.CharField(max_length=80)
    changed_at = fields.DatetimeField()

    class Meta:
        table = "connector_state"


class VersionError(ValueError):
    """A registry operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Current:
    state: ConnectorState
    version: ConnectorVersion


def digest(manifest: Manifest) -> str:
    return hashlib.sha256(manifest.to_toml().encode()).hexdigest()


async def current(agency: str) -> Current | None:
    state = await ConnectorState.get_or_none(agency=agency)
    if state is None:
        return None
    version = await ConnectorVersion.get(agency=agency, version=state.version)
    return Current(state, version)


async def all_states() -> list[ConnectorState]:
    return await ConnectorState.all().order_by("agency")


async def history(agency: str) -> list[ConnectorVersion]:
    return await ConnectorVersion.filter(agency=agency).order_by("-version")


async def serving(section: str) -> ConnectorState | None:
    """The enabled connector serving a section, if any."""
    return await ConnectorState.get_or_none(section=section, enabled=True)


async def add_and_activate(manifest: Manifest, by: str) -> ConnectorVersion:
    """Store a new version and put it in force, in one transaction."""
    now = datetime.now(UTC)
    async with in_transaction():
        other = (
            await ConnectorState.filter(section=manifest.section, enabled=True).exclude(agency=manifest.agency).first()
        )
        if other is not None:
            raise ManifestError.at("section", f"the {manifest.section} section is served by agency {other.agency!r}")
        latest = await ConnectorVersion.filter(agency=manifest.agency).order_by("-version").first()
        number = 1 if latest is None else latest.version + 1
        record = await ConnectorVersion.create(
            agency=manifest.agency,
            version=number,
            section=manifest.section,
            manifest=manifest.stored(),
            digest=digest(manifest),
            registered_by=by,
            registered_at=now,
        )
        await _point(manifest.agency, manifest.section, number, True, by, now)
    return record


async def point_to(agency: str, version: int, by: str) -> ConnectorVersion:
    """Put an existing version back in force (rollback, enable)."""
    now = datetime.now(UTC)
    async with in_transaction():
        record = await ConnectorVersion.get_or_none(agency=agency, version=version)
        if record is None:
            raise VersionError(f"{agency} has no version {version}")
        other = await ConnectorState.filter(section=record.section, enabled=True).exclude(agency=agency).first()
        if other is not None:
            raise VersionError(f"the {record.section} section is served by agency {other.agency!r}")
        await _point(agency, record.section, version, True, by, now)
    return record


async def disable(agency: str, by: str) -> ConnectorState:
    async with in_transaction():
        state = await ConnectorState.select_for_update().get_or_none(agency=agency)
        if state is None:
            raise VersionError(f"no connector {agency!r}")
        if not state.enabled:
            raise VersionError(f"{agency} is already disabled")
        await _point(agency, state.section, state.version, False, by, datetime.now(UTC))
    return await ConnectorState.get(agency=agency)


async def _point(agency: str, section: str, version: int, enabled: bool, by: str, now: datetime) -> None:
    state = await ConnectorState.select_for_update().get_or_none(agency=agency)
    if state is None:
        await ConnectorState.create(
            agency=agency, section=section, version=version, enabled=enabled, changed_by=by, changed_at=now
        )
        return
    state.section, state.version, state.enabled = section, version, enabled
    state.generation += 1
    state.changed_by, state.changed_at = by, now
    await state.save()
