"""From a manifest to a connector: the built-in manifests, the operator's overrides, Python adapters
registered by entry point, and the HTTP endpoint each connector gets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from connectors.agency_auth import AgencyAuth, ApiKeyAuth, ClientCredentialsAuth, HmacAuth, NoAuth
from connectors.base import Connector
from connectors.declarative import ManifestConnector
from connectors.domain import AGENCY_IDS
from connectors.manifest import ApiKeyAuth as ApiKeySpec
from connectors.manifest import ClientCredentialsAuth as ClientCredentialsSpec
from connectors.manifest import HmacAuth as HmacSpec
from connectors.manifest import Manifest, ManifestError
from connectors.manifest_parsing import from_data, parse
from connectors.outbound import OutboundPolicy
from connectors.runtime import AgencyClient, AgencyEndpoint, RetryPolicy

BUILTIN_DIR = Path(__file__).parent / "manifests"
ENTRY_POINT_GROUP = "cardhub.connectors"
# Operator settings (hub/settings.py, [agencies.ID]) that may override a built-in manifest.
OVERRIDE_KEYS = (
    "url",
    "auth",
    "header",
    "secret",
    "client_id",
    "app_id",
    "token_path",
    "timeout_seconds",
    "max_connections",
)


class ConnectorConfigError(ValueError):
    pass


def builtin_manifest(agency: str) -> Manifest:
    """The manifest shipped for one of the five sandbox agencies."""
    if agency not in AGENCY_IDS:
        raise ConnectorConfigError(f"no built-in manifest for agency {agency!r}")
    return parse((BUILTIN_DIR / f"{agency}.toml").read_text(encoding="utf-8"))


def with_overrides(manifest: Manifest, cfg: Mapping[str, Any]) -> Manifest:
    """The manifest with the operator's settings for its agency applied (URL, credentials, timeout)."""
    unknown = set(cfg) - set(OVERRIDE_KEYS)
    if unknown:
        raise ConnectorConfigError(f"{manifest.agency}: unknown settings {sorted(unknown)}")
    if not cfg:
        return manifest
    data = json.loads(manifest.secret_json())
    if "url" in cfg:
        data["base_url"] = str(cfg["url"])
    for key in ("timeout_seconds", "max_connections"):
        if key in cfg:
            try:
                data[key] = float(cfg[key]) if key == "timeout_seconds" else int(cfg[key])
            except (TypeError, ValueError):
                raise ConnectorConfigError(f"{manifest.agency}: setting {key}: not a number: {cfg[key]!r}") from None
    auth_keys = {
        k: str(v) for k, v in cfg.items() if k in ("auth", "header", "secret", "client_id", "app_id", "token_path")
    }
    if auth_keys:
        kind = auth_keys.pop("auth", data["auth"]["kind"])
        base = data["auth"] if kind == data["auth"]["kind"] else {}
        data["auth"] = {**base, **auth_keys, "kind": kind}
        if "secret" in auth_keys:
            data["auth"].pop("secret_env", None)
    try:
        return from_data(data)
    except ManifestError as exc:
        raise ConnectorConfigError(f"{manifest.agency}: settings make an invalid manifest: {exc}") from None


def agency_auth(manifest: Manifest) -> AgencyAuth:
    spec = manifest.auth
    if isinstance(spec, ApiKeySpec):
        return ApiKeyAuth(header=spec.header, key=spec.resolved_secret(manifest.agency))
    if isinstance(spec, ClientCredentialsSpec):
        return ClientCredentialsAuth(spec.token_path, spec.client_id, spec.resolved_secret(manifest.agency))
    if isinstance(spec, HmacSpec):
        return HmacAuth(app_id=spec.app_id, secret=spec.resolved_secret(manifest.agency))
    return NoAuth()


def endpoint(
    manifest: Manifest, extra_headers: tuple[tuple[str, str], ...] = (), outbound: OutboundPolicy | None = None
) -> AgencyEndpoint:
    """The HTTP side of a connector; ``outbound`` None is the sandbox's policy (tools and tests only:
    the hub always passes its own)."""
    rate = manifest.rate_limit
    return AgencyEndpoint(
        agency=manifest.agency,
        base_url=manifest.base_url,
        auth=agency_auth(manifest),
        timeout_seconds=manifest.timeout_seconds,
        max_connections=manifest.max_connections,
        extra_headers=extra_headers,
        retry=RetryPolicy(
            attempts=manifest.retry.attempts,
            backoff_seconds=manifest.retry.backoff_ms / 1000,
            on=frozenset(manifest.retry.on),
        ),
        rate_limit=None if rate is None else (rate.requests_per_second, rate.burst),
        outbound=outbound or OutboundPolicy.sandbox(),
    )


def adapter_class(name: str) -> type[Connector]:
    """A hand-written adapter registered under the ``cardhub.connectors`` entry point group."""
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ManifestError.at("adapter", f"no adapter {name!r} is installed (entry point group {ENTRY_POINT_GROUP})")
    try:
        cls = found[0].load()
    except Exception as exc:  # a broken plug-in must not take the hub down: refuse the manifest instead
        raise ManifestError.at("adapter", f"adapter {name!r} failed to load: {type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ManifestError.at("adapter", f"adapter {name!r} is not a Connector class")
    return cls


def build_connector(
    manifest: Manifest, *, extra_headers: tuple[tuple[str, str], ...] = (), outbound: OutboundPolicy | None = None
) -> Connector:
    """A connector for the manifest, not yet started (``await connector.client.start()``)."""
    client = AgencyClient(endpoint(manifest, extra_headers, outbound))
    if manifest.adapter is None:
        return ManifestConnector(client, manifest)
    connector = adapter_class(manifest.adapter)(client)
    connector.agency, connector.name, connector.section = manifest.agency, manifest.name, manifest.section
    connector.health_path = manifest.health_path
    connector.cache_ttl_seconds = manifest.cache_ttl_seconds
    return connector


def builtin_connector(
    agency: str,
    cfg: Mapping[str, Any] | None = None,
    *,
    extra_headers: tuple[tuple[str, str], ...] = (),
    **changes: Any,
) -> Connector:
    """A built-in agency's connector with the operator's settings (``cfg``) and manifest ``changes``
    (top-level keys, e.g. ``timeout_seconds``), for tools, tests and benchmarks."""
    manifest = with_overrides(builtin_manifest(agency), cfg or {})
    if changes:
        manifest = from_data({**json.loads(manifest.secret_json()), **changes})
    return build_connector(manifest, extra_headers=extra_headers)
