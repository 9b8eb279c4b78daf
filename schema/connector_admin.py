"""Resolvers of the connector fields: an agency reads and manages its own connectors only.

Every change goes through ``connectors.lifecycle`` (validate, contract test, activate), then this
instance swaps the new version in at once; other instances follow within connector_poll_seconds.
"""

from __future__ import annotations

import logging

from auth import clients
from auth.clients import ClientType
from connectors import lifecycle, versions
from connectors.live import LiveConnectors
from connectors.manifest import ManifestError
from connectors.policy import NotYourSection
from connectors.versions import VersionError
from schema.context import Info
from schema.errors import BadUserInput, ConnectorNotFound, ContractTestFailed, Forbidden, ManifestInvalid
from schema.permissions import require_principal
from schema.types.connector import Connector, ConnectorRegistration

log = logging.getLogger("cardhub.connectors")


async def own_agency(info: Info) -> str:
    """The agency the calling client manages connectors for."""
    principal = require_principal(info)
    client = await clients.find(principal.client_id)
    if client is None or client.type is not ClientType.AGENCY or client.agency is None:
        raise Forbidden("only an agency client registered with an agency id manages connectors")
    return client.agency


async def connectors(info: Info) -> list[Connector]:
    agency = await own_agency(info)
    return [c for c in [await _view(info, agency)] if c is not None]


async def register(info: Info, manifest: str) -> ConnectorRegistration:
    agency = await own_agency(info)
    by = require_principal(info).client_id
    try:
        record, created = await lifecycle.register(manifest, by, info.context.services.connector_policy, owner=agency)
    except NotYourSection as exc:
        log.warning("agency client %s refused: FORBIDDEN: %s", by, exc)
        raise Forbidden(str(exc), problems=[{"path": exc.path, "reason": str(exc)}]) from None
    except lifecycle.ContractFailed as exc:
        log.warning("agency client %s: contract test failed: %s", by, exc)
        raise ContractTestFailed(str(exc), problems=_problems(exc)) from None
    except ManifestError as exc:
        log.warning("agency client %s refused: MANIFEST_INVALID: %s", by, exc)
        raise ManifestInvalid(str(exc), problems=_problems(exc)) from None
    await _apply(info)
    view = await _view(info, record.agency)
    assert view is not None
    return ConnectorRegistration(connector=view, created=created)


async def disable(info: Info, agency: str) -> Connector:
    own = await own_agency(info)
    if agency != own:
        raise Forbidden(f"this client manages agency {own!r}'s connectors, not {agency!r}'s")
    by = require_principal(info).client_id
    try:
        await lifecycle.disable(agency, by, info.context.services.connector_policy, owner=own)
    except NotYourSection as exc:
        log.warning("agency client %s refused: FORBIDDEN: %s", by, exc)
        raise Forbidden(str(exc), problems=[{"path": exc.path, "reason": str(exc)}]) from None
    except VersionError as exc:
        if await versions.current(agency) is None:
            raise ConnectorNotFound(str(exc), agency=agency) from None
        raise BadUserInput(str(exc), argument="agency") from None
    await _apply(info)
    view = await _view(info, agency)
    assert view is not None
    return view


async def _apply(info: Info) -> None:
    live = info.context.services.connectors
    if isinstance(live, LiveConnectors):
        await live.refresh()


async def _view(info: Info, agency: str) -> Connector | None:
    now = await versions.current(agency)
    if now is None:
        return None
    live = info.context.services.connectors
    policy = info.context.services.connector_policy
    owner = policy.owner_of(now.state.section)
    if not isinstance(live, LiveConnectors):
        return Connector.of(now.state, now.version, now.version.parsed(policy.sealer), None, owner)
    # Health only of the version the state names: one this process cannot run shows none.
    running = live.by_agency().get(agency) if live.version_of(agency) == now.state.version else None
    return Connector.of(now.state, now.version, live.effective(now.version), running, owner)


def _problems(exc: ManifestError) -> list[dict[str, str]]:
    return [{"path": p.path, "reason": p.reason} for p in exc.problems]
