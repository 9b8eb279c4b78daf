"""``cardhub``: serve the hub, run the sandbox agencies, mint sandbox tokens, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from types import FrameType

from auth import scopes, tokens
from connectors.domain import AGENCY_IDS
from connectors.manifest import ManifestError
from connectors.registry import ConnectorConfigError
from hub import (
    cli_audit,
    cli_cache,
    cli_card,
    cli_citizens,
    cli_clients,
    cli_connectors,
    cli_consent,
    cli_db,
    cli_documents,
    cli_keys,
    cli_schema,
    database,
)
from hub import settings as settings_module
from hub.observability import logs
from hub.settings import Settings, SettingsError


class UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`cardhub sandbox personas | head -1`): no traceback. As the Python docs
        # advise (signal module, "Note on SIGPIPE"), point stdout at devnull so the exit flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(_config_first(argv))
    try:
        sandbox_only = getattr(args, "default_mode", "production") == "sandbox"
        if sandbox_only and os.environ.get("CARDHUB_MODE") == "production":
            raise UsageError(f"cardhub {args.command} runs in sandbox mode only; CARDHUB_MODE says production")
        if getattr(args, "needs_settings", True):
            mode = getattr(args, "default_mode", "production")
            settings = settings_module.load(config_file=args.config, default_mode=mode)
        else:  # needs none (keys generate, connectors schema): works before any setting exists
            settings = Settings()
        # The one place the CLI sets up logging: every logger, one handler, so a failure prints once.
        # A command prints its own results; routine info lines are for the servers (serve, demo).
        level = settings.log_level if settings.log_level.lower() in ("error", "critical") else "warning"
        logs.configure(level, logs.format_for(settings.log_format, settings.is_sandbox))
        result: int = args.handler(args, settings)
        return result
    except (
        SettingsError,
        UsageError,
        scopes.UnknownScope,
        ConnectorConfigError,
        ManifestError,
        database.SchemaError,
        cli_consent.UsageError,
    ) as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _config_first(argv: list[str]) -> list[str]:
    """``--config FILE`` is accepted after the subcommand too: move it to the front, where it is parsed."""
    moved: list[str] = []
    rest: list[str] = []
    items = iter(argv)
    for item in items:
        value = next(items, None) if item == "--config" else None
        if value is not None:
            moved += [item, value]
        elif item.startswith("--config="):
            moved.append(item)
        else:
            rest.append(item)
    return moved + rest


def _version() -> str:
    try:
        return metadata.version("citizen-card-hub")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardhub", description="Citizen Card Hub")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML settings file (also CARDHUB_CONFIG); before or after the subcommand"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}", help="print the version")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--host", help="address to listen on (default: the host setting)")
    serve.add_argument("--port", type=int, help="port to listen on (default: the port setting)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(handler=_serve)

    sandbox = sub.add_parser("sandbox", help="the stand-in agency services")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", required=True)
    up = sandbox_sub.add_parser("up", help="start all five agencies until Ctrl-C")
    _fault_options(up)
    up.add_argument("--base-port", type=int, metavar="P", help="agencies on ports P to P+4 (default 8701-8705)")
    up.set_defaults(handler=_sandbox_up, needs_settings=False)
    personas = sandbox_sub.add_parser("personas", help="list the test citizens")
    personas.add_argument("--json", action="store_true", help="JSON with cardNumber, name, username, password")
    personas.set_defaults(handler=_sandbox_personas, needs_settings=False)

    token = sub.add_parser("token", help="mint a bearer token (sandbox mode only)")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--persona", metavar="CARD_NUMBER", help="a citizen's token, for Query.me")
    who.add_argument("--client", metavar="CLIENT_ID", help="a client's own token, for Query.citizen")
    token.add_argument("--scope", action="append", metavar="S", help="repeatable; default: every read scope")
    token.add_argument("--ttl", type=int, metavar="SECONDS", help="lifetime (default: settings)")
    token.set_defaults(handler=_token, default_mode="sandbox")

    cli_consent.add_parser(sub)

    scopes_parser = sub.add_parser("scopes", help="print the scope catalogue as the docs' Markdown table")
    scopes_parser.set_defaults(handler=_scopes, needs_settings=False)

    cli_audit.add_parser(sub)
    cli_clients.add_parser(sub)
    cli_connectors.add_parser(sub)
    cli_cache.add_parser(sub)
    cli_db.add_parser(sub)
    cli_documents.add_parser(sub)
    cli_keys.add_parser(sub)
    cli_schema.add_parser(sub)
    cli_card.add_parser(sub)
    cli_citizens.add_parser(sub)

    demo = sub.add_parser("demo", help="sandbox agencies + hub + a ready token")
    demo.add_argument("--port", type=int, default=8000, help="the hub's port (default 8000)")
    _fault_options(demo)
    demo.add_argument("--base-port", type=int, metavar="P", help="agencies on ports P to P+4 (default 8701-8705)")
    demo.set_defaults(handler=_demo, default_mode="sandbox")
    return parser


def _fault_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latency", action="append", default=[], metavar="AGENCY=MS", help="added latency, repeatable")
    parser.add_argument(
        "--down", action="append", default=[], metavar="AGENCY", choices=AGENCY_IDS, help="agency answers 503"
    )


def _latencies(items: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for item in items:
        agency, sep, ms = item.partition("=")
        if not sep or agency not in AGENCY_IDS or not ms.isdigit():
            raise UsageError(f"--latency takes AGENCY=MS with AGENCY one of {', '.join(AGENCY_IDS)}; got {item!r}")
        result[agency] = int(ms)
    return result


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from hub.app import check_builtins
    from hub.server import serve

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    check_builtins(settings)  # refuse a bad URL or credential now, not in a worker's traceback
    asyncio.run(database.ensure_schema_of(settings.database_url, sandbox=settings.is_sandbox))
    # Workers read their settings from the environment: hand them the address given on the command line.
    os.environ["CARDHUB_HOST"], os.environ["CARDHUB_PORT"] = settings.host, str(settings.port)
    serve(settings, workers=args.workers, config_file=args.config)
    return 0


def _sandbox_up(args: argparse.Namespace, settings: Settings) -> int:
    from sandbox import runner

    try:
        sandbox = runner.start(latency=_latencies(args.latency), down=args.down, base_port=args.base_port)
    except runner.SandboxStartError as exc:
        raise UsageError(str(exc)) from None
    with sandbox:
        for agency, url in sandbox.urls.items():
            print(f"{agency:16} {url}  (OpenAPI: {url}/openapi.json)", flush=True)
        print("Sandbox agencies running. Ctrl-C stops them.", flush=True)
        _wait_for_signal()
    return 0


def _wait_for_signal() -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def _sandbox_personas(args: argparse.Namespace, settings: Settings) -> int:
    from sandbox.personas import PERSONAS, personas_json

    if args.json:
        print(personas_json())
        return 0
    for p in PERSONAS:
        print(f"{p.card_number}  {p.name}\t{p.username:16} {p.password:22} {p.note}")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.is_sandbox:
        raise UsageError("cardhub token works in sandbox mode only (CARDHUB_MODE=sandbox)")
    granted = scopes.parse(args.scope) if args.scope else scopes.READ_SCOPES
    ttl = args.ttl if args.ttl is not None else settings.sandbox_token_ttl_seconds
    if ttl <= 0:
        raise UsageError("--ttl must be positive")
    print(asyncio.run(_mint(settings, args.persona, args.client, granted, ttl)))
    return 0


async def _mint(settings: Settings, persona: str | None, client: str | None, granted: frozenset[str], ttl: int) -> str:
    from auth.registry import find_citizen
    from hub import sandbox_access
    from hub.sandbox_seed import seed_registry

    async with database.connected(settings.database_url):
        await seed_registry()
        if persona is not None:
            if await find_citizen(persona) is None:
                raise UsageError(f"no persona with card number {persona!r}; see: cardhub sandbox personas")
            return await sandbox_access.citizen_token(persona, granted, ttl)
        assert client is not None
        return await tokens.issue(client, granted, None, ttl)


def _scopes(args: argparse.Namespace, settings: Settings) -> int:
    print(scopes.markdown_table())
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from hub import demo
    from sandbox import runner

    if not settings.is_sandbox:
        raise UsageError("cardhub demo runs in sandbox mode only; CARDHUB_MODE (or the config file) says production")
    try:
        demo.run(settings, args.port, _latencies(args.latency), args.down, base_port=args.base_port)
    except runner.SandboxStartError as exc:
        raise UsageError(f"{exc}. Is another demo or sandbox running?") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
