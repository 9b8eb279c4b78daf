"""Registering, checking and switching connector versions: validate, contract-test, then activate.

A manifest goes through three gates before it serves anyone: the schema and mapping checks
(``connectors.manifest``), a contract test that reads the manifest's test citizen from the live agency
and maps the answer, and one transaction that stores the version and puts it in force. A manifest that
fails any gate is not stored, and the connector in force is untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from connectors import versions
from connectors.domain import Section
from connectors.errors import AgencyAddressRefused, AgencyAuthFailed, AgencyError
from connectors.manifest import REDACTED, Manifest, ManifestError, Problem
from connectors.manifest_parsing import from_data, parse
from connectors.policy import ConnectorPolicy, NotYourSection
from connectors.registry import build_connector, builtin_manifest
from connectors.section_types import SECTION_TYPES
from connectors.versions import ConnectorState, ConnectorVersion, VersionError

log = logging.getLogger("cardhub.connectors")


class ContractFailed(ManifestError):
    """The manifest is well-formed, but the live agency, read through it, did not give valid section data."""


class NotYourConnector(NotYourSection):
    """An agency client acting on another agency's connector."""

    path = "agency"


async def contract_test(
    manifest: Manifest, policy: ConnectorPolicy, *, extra_headers: tuple[tuple[str, str], ...] = ()
) -> Section:
    """Read the manifest's test citizen from the live agency through the manifest; the section it maps to.
    Every call goes through the policy's outbound checks: a refused address gets nothing, secrets included."""
    policy.check_address(manifest)
    connector = build_connector(manifest, extra_headers=extra_headers, outbound=policy.outbound)
    card = manifest.contract.test_card_number
    await connector.client.start()
    try:
        try:
            await connector.ping()
        except AgencyAddressRefused as exc:
            raise ManifestError.at("base_url", exc.message) from None
        except AgencyAuthFailed as exc:
            raise ContractFailed.at("auth", f"the agency refused the hub's credentials: {exc.message}") from None
        except AgencyError as exc:
            reason = f"the agency did not answer {manifest.health_path}: {exc.code}: {exc.message}"
            raise ContractFailed.at("base_url", reason) from None
        try:
            section = await connector.fetch(card)
        except AgencyAddressRefused as exc:
            raise ManifestError.at("base_url", exc.message) from None
        except AgencyAuthFailed as exc:
            raise ContractFailed.at("auth", f"the agency refused the hub's credentials: {exc.message}") from None
        except AgencyError as exc:
            raise ContractFailed.at(
                "contract", f"reading test citizen {card} failed: {exc.code}: {exc.message}"
            ) from None
    finally:
        await connector.client.close()
    if section is None:
        raise ContractFailed.at("contract.test_card_number", f"the agency says it has no account for {card}")
    if not isinstance(section, SECTION_TYPES[manifest.section]):  # a Python adapter's own bug
        raise ContractFailed.at("adapter", f"the adapter returned a {type(section).__name__}, not the section")
    checked: Section = section
    return checked


async def prepare(text: str | bytes, policy: ConnectorPolicy, owner: str | None = None) -> Manifest:
    """Parse and check a manifest for registration (no agency call yet): its shape, its secret, the
    section's owner, and where it points."""
    manifest = parse(text)
    if owner is not None and manifest.agency != owner:
        raise NotYourConnector(f"this client manages agency {owner!r}'s connectors, not {manifest.agency!r}'s")
    policy.check_section(manifest.agency, manifest.section)
    policy.check_address(manifest)
    if manifest.keeps_active_secret:
        manifest = await _with_active_secret(manifest, policy)
    state = await versions.serving(manifest.section)
    if state is not None and state.agency != manifest.agency:
        raise ManifestError.at("section", f"the {manifest.section} section is served by agency {state.agency!r}")
    return manifest


async def register(
    text: str | bytes,
    by: str,
    policy: ConnectorPolicy,
    *,
    owner: str | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> tuple[ConnectorVersion, bool]:
    """Validate, contract-test, store and activate. Returns the version in force and whether it is new
    (registering the manifest already in force changes nothing)."""
    manifest = await prepare(text, policy, owner)
    now = await versions.current(manifest.agency)
    if now is not None and _same(now.version, manifest, policy):
        if not now.state.enabled:  # the same manifest again after a disable: enable it, no duplicate version
            await contract_test(manifest, policy, extra_headers=extra_headers)
            await versions.point_to(manifest.agency, now.state.version, by)
        return now.version, False
    await contract_test(manifest, policy, extra_headers=extra_headers)
    record = await versions.add_and_activate(manifest, by, policy.sealer)
    log.info("connector %s version %d registered by %s and active", manifest.agency, record.version, by)
    return record, True


async def rollback(
    agency: str, by: str, policy: ConnectorPolicy, to: int | None = None, owner: str | None = None
) -> ConnectorVersion:
    """Put back the version before the one in force (or ``to``)."""
    _check_owner(agency, owner)
    now = await versions.current(agency)
    if now is None:
        raise VersionError(f"no connector {agency!r}")
    policy.check_section(agency, now.state.section)
    if to is None:
        earlier = [v.version for v in await versions.history(agency) if v.version < now.state.version]
        if not earlier:
            raise VersionError(f"{agency} has no version before {now.state.version} to roll back to")
        to = earlier[0]
    target = await ConnectorVersion.get_or_none(agency=agency, version=to)
    if target is not None:
        policy.check_section(agency, target.section)
    record = await versions.point_to(agency, to, by)
    log.info("connector %s rolled back to version %d by %s", agency, to, by)
    return record


async def disable(agency: str, by: str, policy: ConnectorPolicy, owner: str | None = None) -> ConnectorState:
    """Stop using the connector. Its section stays bound to its agency: no other may take it over."""
    _check_owner(agency, owner)
    now = await versions.current(agency)
    if now is not None and owner is not None:
        policy.check_section(agency, now.state.section)
    state = await versions.disable(agency, by)
    log.info("connector %s disabled by %s", agency, by)
    return state


async def enable(agency: str, by: str, policy: ConnectorPolicy, owner: str | None = None) -> ConnectorVersion:
    _check_owner(agency, owner)
    now = await versions.current(agency)
    if now is None:
        raise VersionError(f"no connector {agency!r}")
    policy.check_section(agency, now.state.section)
    if now.state.enabled:
        raise VersionError(f"{agency} is already enabled")
    return await versions.point_to(agency, now.state.version, by)


async def seed_builtins(agencies: Iterable[str], policy: ConnectorPolicy) -> list[str]:
    """Register the shipped manifest of each agency that has never had one and owns its section (no
    contract test: the hub may start before the agencies). Returns the agencies seeded."""
    seeded = []
    for agency in agencies:
        if await ConnectorVersion.exists(agency=agency):
            continue
        manifest = builtin_manifest(agency)
        if policy.owner_of(manifest.section) != agency or await versions.serving(manifest.section) is not None:
            continue  # the section is bound to, or served by, another agency
        await versions.add_and_activate(manifest, versions.BUILTIN, policy.sealer)
        seeded.append(agency)
    return seeded


def _check_owner(agency: str, owner: str | None) -> None:
    if owner is not None and agency != owner:
        raise NotYourConnector(f"this client manages agency {owner!r}'s connectors, not {agency!r}'s")


def _same(stored: ConnectorVersion, manifest: Manifest, policy: ConnectorPolicy) -> bool:
    try:
        return stored.parsed(policy.sealer).secret_json() == manifest.secret_json()
    except ManifestError:  # a version that no longer opens or validates is not the same as a good one
        return False


async def _with_active_secret(manifest: Manifest, policy: ConnectorPolicy) -> Manifest:
    now = await versions.current(manifest.agency)
    if now is not None and now.version.registered_by == versions.BUILTIN:
        # The built-in manifest's own secret is the sandbox's; the operator's lives in the settings.
        raise ManifestError.at("auth.secret", f"{REDACTED!r} cannot keep the built-in connector's secret: give it")
    if now is not None:
        active = json.loads(now.version.parsed(policy.sealer).secret_json())["auth"]
        if active.get("kind") == manifest.auth.kind and "secret" in active:
            data = json.loads(manifest.secret_json())
            data["auth"]["secret"] = active["secret"]
            return from_data(data)
    raise ManifestError(
        [Problem(path="auth.secret", reason=f"{REDACTED!r} keeps the secret in force, but there is none of this kind")]
    )
