"""``cardhub connectors ...``: validate, register, list, show, export, enable, disable, roll back.

The operator's side of the connector registry (agencies use GraphQL). Changes are written to the
database; running hubs put them in force within ``connector_poll_seconds``, without a restart.
Exit codes: 0 done, 1 refused (the problems are printed, one ``path: reason`` per line), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from connectors import lifecycle, versions
from connectors.domain import Section
from connectors.manifest import Manifest, ManifestError
from connectors.manifest_parsing import MAX_MANIFEST_BYTES, json_schema, parse
from connectors.policy import ConnectorPolicy, NotYourSection
from connectors.versions import ConnectorState, ConnectorVersion, VersionError
from hub import database
from hub.progress import progress
from hub.settings import Settings

T = TypeVar("T")
BY = "cli"


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("connectors", help="agency connectors: manifests, versions, rollback")
    commands = parser.add_subparsers(dest="connectors_command", required=True)

    validate = commands.add_parser("validate", help="check a manifest, then contract-test it against the agency")
    validate.add_argument("file", metavar="FILE", help="manifest, TOML or JSON ('-': standard input)")
    validate.add_argument("--offline", action="store_true", help="check the file only; call no agency")
    validate.set_defaults(handler=_validate)

    register = commands.add_parser("register", help="validate, contract-test and put a manifest in force")
    register.add_argument("file", metavar="FILE", help="manifest, TOML or JSON ('-': standard input)")
    register.add_argument("--json", action="store_true", help="JSON instead of text")
    register.set_defaults(handler=_register)

    listing = commands.add_parser("list", help="every connector: version in force, enabled or not")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one connector and all its versions")
    show.add_argument("agency", metavar="ID", help="the agency id")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(handler=_show)

    export = commands.add_parser("export", help="print the manifest in force (its secret redacted)")
    export.add_argument("agency", metavar="ID", help="the agency id")
    export.add_argument("--version", type=int, help="an earlier version instead")
    export.add_argument("--json", action="store_true", help="JSON instead of TOML")
    export.set_defaults(handler=_export)

    for name, handler, text in (
        ("disable", _disable, "stop using the connector (its section answers AGENCY_UNAVAILABLE)"),
        ("enable", _enable, "use the connector's last version again"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("agency", metavar="ID", help="the agency id")
        command.set_defaults(handler=handler)

    schema = commands.add_parser("schema", help="print the manifest's JSON Schema")
    schema.set_defaults(handler=_schema, needs_settings=False)

    rollback = commands.add_parser("rollback", help="put the version before the one in force back (or --to N)")
    rollback.add_argument("agency", metavar="ID", help="the agency id")
    rollback.add_argument("--to", type=int, metavar="N", help="the version to put back")
    rollback.set_defaults(handler=_rollback)


def _read(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
    else:
        try:
            with Path(path).open("rb") as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)  # a huge file is refused without reading it all
        except OSError as exc:
            raise ManifestError.at("", f"cannot read {path}: {exc.strerror}") from None
    return data


def _policy(settings: Settings) -> ConnectorPolicy:
    from hub.app import connector_policy  # the app's modules only for the commands that use them

    return connector_policy(settings, settings.keyring())


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    from hub.app import builtin_agencies

    async def run() -> T:
        async with database.connected(settings.database_url):
            async with database.exclusively():
                await lifecycle.seed_builtins(builtin_agencies(settings), _policy(settings))
            return await work()

    return asyncio.run(run())


def _refused(exc: ManifestError | VersionError | NotYourSection) -> int:
    if isinstance(exc, ManifestError):
        lines = [str(p) for p in exc.problems]
    else:
        lines = [f"{exc.path}: {exc}" if isinstance(exc, NotYourSection) else str(exc)]
    kind = "contract test failed" if isinstance(exc, lifecycle.ContractFailed) else "refused"
    print(f"cardhub: {kind}:", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 1


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = _read(args.file)
    except ManifestError as exc:
        return _refused(exc)

    async def online() -> tuple[Manifest, Section]:
        # As registration would see it: the operator's policy, the section's owner, "<redacted>" filled in.
        policy = _policy(settings)
        checked = await lifecycle.prepare(text, policy)
        return checked, await lifecycle.contract_test(checked, policy)

    try:
        if args.offline:
            manifest = parse(text)
            print(f"{manifest.agency}: manifest is valid (not contract-tested: --offline)")
            return 0
        with progress("contract-testing the manifest against the agency"):
            manifest, section = _run(settings, online)
    except ManifestError as exc:
        return _refused(exc)
    card = manifest.contract.test_card_number
    print(f"{manifest.agency}: manifest is valid; contract test read {card}: {_summary(section)}")
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = _read(args.file)
        with progress("contract-testing and registering the manifest"):
            record, created = _run(settings, lambda: lifecycle.register(text, BY, _policy(settings)))
    except (ManifestError, VersionError, NotYourSection) as exc:
        return _refused(exc)
    if args.json:
        print(json.dumps({"agency": record.agency, "version": record.version, "created": created}))
    elif created:
        print(
            f"{record.agency}: version {record.version} is in force "
            f"(running hubs switch within {settings.connector_poll_seconds:g}s)"
        )
    else:
        print(f"{record.agency}: unchanged, version {record.version} is already in force")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[tuple[ConnectorState, ConnectorVersion]]:
        return [
            (s, await ConnectorVersion.get(agency=s.agency, version=s.version)) for s in await versions.all_states()
        ]

    rows = _run(settings, work)
    owners = settings.all_section_owners
    if args.json:
        print(json.dumps([_state_json(s, v, owners) for s, v in rows], ensure_ascii=False))
        return 0
    width = max([len("REGISTERED BY"), *(len(v.registered_by) for _, v in rows)]) + 2
    print(f"{'AGENCY':<18}{'SECTION':<17}{'OWNER':<18}{'VERSION':>7}  {'STATE':<9}{'REGISTERED BY':<{width}}CHANGED AT")
    for state, version in rows:
        status = "enabled" if state.enabled else "disabled"
        owner = owners.get(state.section) or "-"
        print(
            f"{state.agency:<18}{state.section:<17}{owner:<18}{state.version:>7}  {status:<9}"
            f"{version.registered_by:<{width}}{state.changed_at:%Y-%m-%d %H:%M:%S}"
        )
    unserved = sorted(s for s, a in owners.items() if a and s not in {state.section for state, _ in rows})
    for section in unserved:
        print(f"{'-':<18}{section:<17}{owners[section]:<18}{'-':>7}  (no connector yet)")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> tuple[versions.Current | None, list[ConnectorVersion]]:
        return await versions.current(args.agency), await versions.history(args.agency)

    now, history = _run(settings, work)
    if now is None:
        return _refused(VersionError(f"no connector {args.agency!r}"))
    manifest = now.version.parsed(_policy(settings).sealer)
    owners = settings.all_section_owners
    if args.json:
        data = _state_json(now.state, now.version, owners) | {"versions": [_version_json(v) for v in history]}
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"{now.state.agency}: {manifest.name}")
    print(
        f"  section {now.state.section} (bound to {owners.get(now.state.section) or 'no agency'}), "
        f"{'enabled' if now.state.enabled else 'DISABLED'}, version {now.state.version}"
    )
    print(f"  base URL {manifest.base_url}, auth {manifest.auth.kind}, cache TTL {manifest.cache_ttl_seconds}s")
    if now.version.registered_by == versions.BUILTIN:
        print("  built-in manifest: the [agencies] settings override its URL and credentials")
    print("  versions:")
    for v in history:
        mark = "*" if v.version == now.state.version else " "
        print(f"   {mark}{v.version:>4}  {v.registered_at:%Y-%m-%d %H:%M:%S}  {v.registered_by:<24} {v.digest[:12]}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> ConnectorVersion | None:
        if args.version is not None:
            return await ConnectorVersion.get_or_none(agency=args.agency, version=args.version)
        now = await versions.current(args.agency)
        return None if now is None else now.version

    record = _run(settings, work)
    if record is None:
        which = f"version {args.version} of " if args.version is not None else ""
        return _refused(VersionError(f"no {which}connector {args.agency!r}"))
    manifest = record.parsed(_policy(settings).sealer)
    if record.registered_by == versions.BUILTIN:
        from connectors.registry import with_overrides
        from hub.app import builtin_overrides

        manifest = with_overrides(manifest, builtin_overrides(settings)(record.agency))  # what actually runs
    if args.json:
        print(json.dumps(manifest.secret_free(), ensure_ascii=False, indent=2))
    else:
        print(manifest.to_toml(), end="")
    return 0


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    return _change(settings, lambda: lifecycle.disable(args.agency, BY, _policy(settings)), f"{args.agency}: disabled")


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    return _change(settings, lambda: lifecycle.enable(args.agency, BY, _policy(settings)), f"{args.agency}: enabled")


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> ConnectorVersion:
        return await lifecycle.rollback(args.agency, BY, _policy(settings), to=args.to)

    try:
        record = _run(settings, work)
    except (VersionError, NotYourSection) as exc:
        return _refused(exc)
    print(f"{record.agency}: version {record.version} is in force again")
    return 0


def _change(settings: Settings, work: Callable[[], Awaitable[Any]], done: str) -> int:
    try:
        _run(settings, work)
    except (VersionError, NotYourSection) as exc:
        return _refused(exc)
    print(f"{done} (running hubs follow within {settings.connector_poll_seconds:g}s)")
    return 0


def _summary(section: Section) -> str:
    """ "12 visits, 3 vaccinations": how much the test citizen's section held."""
    counts = [(f.name, getattr(section, f.name)) for f in dataclasses.fields(section)]
    return ", ".join(f"{len(v)} {name}" for name, v in counts if isinstance(v, tuple)) or "ok"


def _state_json(state: ConnectorState, version: ConnectorVersion, owners: dict[str, str]) -> dict[str, Any]:
    return {
        "agency": state.agency,
        "section": state.section,
        "sectionOwner": owners.get(state.section) or None,
        "version": state.version,
        "enabled": state.enabled,
        "registeredBy": version.registered_by,
        "changedAt": state.changed_at.isoformat(),
    }


def _version_json(version: ConnectorVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "registeredBy": version.registered_by,
        "registeredAt": version.registered_at.isoformat(),
        "digest": version.digest,
    }
