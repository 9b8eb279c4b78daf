"""Which adapter serves which agency, and how to build one from its configuration."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from connectors.agency_auth import AgencyAuth, ApiKeyAuth, ClientCredentialsAuth, HmacAuth, NoAuth
from connectors.base import Connector
from connectors.runtime import AgencyClient, AgencyEndpoint

ADAPTERS: dict[str, str] = {
    "social_security": "connectors.adapters.social_security:SocialSecurityConnector",
    "transit": "connectors.adapters.transit:TransitConnector",
    "health": "connectors.adapters.health:HealthConnector",
    "housing_fund": "connectors.adapters.housing_fund:HousingFundConnector",
    "library": "connectors.adapters.library:LibraryConnector",
}


class ConnectorConfigError(ValueError):
    pass


def adapter_class(agency: str) -> type[Connector]:
    try:
        module_name, _, class_name = ADAPTERS[agency].partition(":")
    except KeyError:
        raise ConnectorConfigError(f"no adapter for agency {agency!r}") from None
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls


def auth_from_config(agency: str, cfg: Mapping[str, Any]) -> AgencyAuth:
    kind = cfg.get("auth", "none")
    try:
        if kind == "api_key":
            return ApiKeyAuth(header=str(cfg["header"]), key=str(cfg["secret"]))
        if kind == "oauth2_client_credentials":
            return ClientCredentialsAuth(str(cfg["token_path"]), str(cfg["client_id"]), str(cfg["secret"]))
        if kind == "hmac":
            return HmacAuth(app_id=str(cfg["app_id"]), secret=str(cfg["secret"]))
        if kind == "none":
            return NoAuth()
    except KeyError as exc:
        raise ConnectorConfigError(f"{agency}: auth {kind!r} needs setting {exc.args[0]!r}") from None
    raise ConnectorConfigError(f"{agency}: unknown auth kind {kind!r}")


def build_connector(
    agency: str,
    cfg: Mapping[str, Any],
    *,
    timeout_seconds: float = 3.0,
    max_connections: int = 100,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> Connector:
    if not cfg.get("url"):
        raise ConnectorConfigError(f"{agency}: no base URL configured")
    endpoint = AgencyEndpoint(
        agency=agency,
        base_url=str(cfg["url"]),
        auth=auth_from_config(agency, cfg),
        timeout_seconds=float(cfg.get("timeout_seconds", timeout_seconds)),
        max_connections=int(cfg.get("max_connections", max_connections)),
        extra_headers=extra_headers,
    )
    return adapter_class(agency)(AgencyClient(endpoint))
