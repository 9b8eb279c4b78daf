"""Every manifest version an agency registered, and which one is in force.

A version is never changed or deleted: registering adds one, rollback and disable only move the
``ConnectorState`` pointer, in one transaction. ``generation`` counts the changes of a state row so
every hub process can see cheaply that it must rebuild that connector (``connectors.live``).
The stored manifest holds the agency's secret sealed (AES-256-GCM under the ``secrets_key``, bound to
the agency: ``keys.sealing``); nothing read from here is printed or returned with its secret
(``Manifest.secret_free``). ``reseal`` puts every stored secret under the current key after a rotation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from connectors.manifest import Manifest, ManifestError
from connectors.manifest_parsing import from_data
from keys.sealing import Sealer, SealError, is_sealed

log = logging.getLogger("cardhub.connectors")

BUILTIN = "builtin"  # registered_by of the manifests shipped with the hub


class ConnectorVersion(Model):
    id = fields.IntField(primary_key=True)
    agency = fields.CharField(max_length=40)  # by agency: the unique (agency, version) index below
    version = fields.IntField()
    section = fields.CharField(max_length=40)
    manifest = fields.TextField()  # JSON, its secret sealed
    digest = fields.CharField(max_length=64)  # sha256 of the manifest without its secret
    registered_by = fields.CharField(max_length=80)  # a client id, "cli", or "builtin"
    registered_at = fields.DatetimeField()

    class Meta:
        table = "connector_version"
        unique_together = (("agency", "version"),)

    def parsed(self, sealer: Sealer) -> Manifest:
        """The manifest with its secret opened. ManifestError when it no longer opens or validates."""
        data = json.loads(self.manifest)
        secret = data["auth"].get("secret")
        if isinstance(secret, str) and is_sealed(secret):
            try:
                data["auth"]["secret"] = sealer.open(secret, _context(self.agency)).decode()
            except SealError as exc:
                raise ManifestError.at("auth.secret", f"stored secret of version {self.version}: {exc}") from None
        elif secret is not None:
            log.warning("connector %s version %d keeps its secret in the clear: run `cardhub secrets rotate`",
                        self.agency, self.version)  # fmt: skip
        return from_data(data)


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


def _context(agency: str) -> bytes:
    return f"connector secret:{agency}".encode()


def sealed_json(manifest: Manifest, sealer: Sealer) -> str:
    """The manifest as stored: JSON with its secret sealed for its agency."""
    data = json.loads(manifest.secret_json())
    secret = data["auth"].get("secret")
    if secret is not None:
        data["auth"]["secret"] = sealer.seal(secret.encode(), _context(manifest.agency))
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


async def reseal(sealer: Sealer) -> tuple[int, int]:
    """Seal every stored secret under the current key (after a rotation, or one stored in the clear),
    in one transaction. Returns (resealed, versions in all). A secret no listed key opens stops it."""
    resealed = 0
    async with in_transaction():
        records = await ConnectorVersion.all().select_for_update().order_by("id")
        for record in records:
            data = json.loads(record.manifest)
            secret = data["auth"].get("secret")
            if secret is None or sealer.is_current(secret):
                continue
            context = _context(record.agency)
            plain = sealer.open(secret, context) if is_sealed(secret) else secret.encode()
            data["auth"]["secret"] = sealer.seal(plain, context)
            record.manifest = json.dumps(data, ensure_ascii=False, sort_keys=True)
            await record.save(update_fields=["manifest"])
            resealed += 1
    return resealed, len(records)


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


async def add_and_activate(manifest: Manifest, by: str, sealer: Sealer) -> ConnectorVersion:
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
            manifest=sealed_json(manifest, sealer),
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
