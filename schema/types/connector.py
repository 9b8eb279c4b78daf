"""Connectors as agencies see them: the version in force, its state, and how its calls are going."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from connectors.base import Connector as RunningConnector
from connectors.health import call_health
from connectors.manifest import Manifest
from connectors.versions import ConnectorState, ConnectorVersion


@strawberry.type(description="How this hub instance's recent calls to the agency went (the last 500 calls).")
class ConnectorHealth:
    calls: int
    failures: int
    error_rate: float | None = strawberry.field(description="Share of the recent calls that failed, 0 to 1.")
    last_success_at: datetime | None
    last_error: str | None = strawberry.field(description="The code of the last failure, e.g. AGENCY_TIMEOUT.")
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    @classmethod
    def of(cls, connector: RunningConnector) -> ConnectorHealth:
        h = call_health(connector)
        last = None if h.last_success_at is None else datetime.fromtimestamp(h.last_success_at, UTC)
        return cls(
            calls=h.calls,
            failures=h.failures,
            error_rate=h.error_rate,
            last_success_at=last,
            last_error=h.last_error,
            latency_p50_ms=h.latency_p50_ms,
            latency_p95_ms=h.latency_p95_ms,
        )


@strawberry.type(description="An agency's connector: the manifest version in force and its health.")
class Connector:
    agency: strawberry.ID
    name: str
    section: str
    section_owner: str | None = strawberry.field(
        description="The agency the hub's operator bound the section to: the only one that may serve it, "
        "register, update or disable its connector (null: bound to none)."
    )
    version: int = strawberry.field(description="The manifest version in force (or last in force, if disabled).")
    enabled: bool
    registered_by: str = strawberry.field(description="Who registered this version: a client id, cli or builtin.")
    registered_at: datetime
    changed_at: datetime = strawberry.field(description="When this version was put in force, or disabled.")
    cache_ttl_seconds: int
    manifest: str = strawberry.field(
        description="The manifest in force as the hub runs it (a built-in one with the operator's settings), "
        "as TOML, with its secret redacted."
    )
    health: ConnectorHealth | None = strawberry.field(
        description="Null when this version is not running in this instance (disabled, just changed, or "
        "unable to run here: see the hub's log)."
    )

    @classmethod
    def of(
        cls,
        state: ConnectorState,
        version: ConnectorVersion,
        manifest: Manifest,
        running: RunningConnector | None,
        section_owner: str | None,
    ) -> Connector:
        return cls(
            agency=strawberry.ID(state.agency),
            name=manifest.name,
            section=state.section,
            section_owner=section_owner,
            version=state.version,
            enabled=state.enabled,
            registered_by=version.registered_by,
            registered_at=version.registered_at,
            changed_at=state.changed_at,
            cache_ttl_seconds=manifest.cache_ttl_seconds,
            manifest=manifest.to_toml(),
            health=ConnectorHealth.of(running) if running is not None and state.enabled else None,
        )


@strawberry.type
class ConnectorRegistration:
    connector: Connector
    created: bool = strawberry.field(
        description="False when the manifest was already the one in force: nothing changed, no new version."
    )
