"""Start and stop the five stand-in agencies, each in its own process on loopback."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox import credentials
from sandbox.agencies import AGENCY_IDS

DEFAULT_PORTS: dict[str, int] = {agency: 8701 + i for i, agency in enumerate(AGENCY_IDS)}
HOST = "127.0.0.1"
PARENT_PID_ENV = "SANDBOX_PARENT_PID"
# Each start gets a token its agencies echo on /_sandbox/fault: an agency of another run (a demo left
# running on the same port) is recognised at once, not talked to.
RUN_TOKEN_ENV = "SANDBOX_RUN_TOKEN"
RUN_TOKEN_HEADER = "X-Sandbox-Run"


class SandboxStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def agency_configs(base_urls: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """How the hub reaches and authenticates to each sandbox agency (URL, auth kind, credentials)."""
    urls = {a: f"http://{HOST}:{p}" for a, p in DEFAULT_PORTS.items()}
    urls.update(base_urls or {})
    return {
        "social_security": {
            "url": urls["social_security"],
            "auth": "hmac",
            "app_id": credentials.SOCIAL_SECURITY_APP_ID,
            "secret": credentials.SOCIAL_SECURITY_HMAC_SECRET,
        },
        "transit": {
            "url": urls["transit"],
            "auth": "oauth2_client_credentials",
            "token_path": "/oauth/token",
            "client_id": credentials.TRANSIT_CLIENT_ID,
            "secret": credentials.TRANSIT_CLIENT_SECRET,
        },
        "health": {
            "url": urls["health"],
            "auth": "api_key",
            "header": "X-Api-Key",
            "secret": credentials.HEALTH_API_KEY,
        },
        "housing_fund": {
            "url": urls["housing_fund"],
            "auth": "oauth2_client_credentials",
            "token_path": "/connect/token",
            "client_id": credentials.HOUSING_FUND_CLIENT_ID,
            "secret": credentials.HOUSING_FUND_CLIENT_SECRET,
        },
        "library": {
            "url": urls["library"],
            "auth": "api_key",
            "header": "X-Library-Key",
            "secret": credentials.LIBRARY_API_KEY,
        },
    }


@dataclass
class Sandbox:
    """A running set of agency processes."""

    ports: dict[str, int]
    run_token: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, agency: str) -> str:
        return f"http://{HOST}:{self.ports[agency]}"

    @property
    def urls(self) -> dict[str, str]:
        return {a: self.url(a) for a in self.ports}

    def configs(self) -> dict[str, dict[str, Any]]:
        return agency_configs(self.urls)

    def stop(self, timeout: float = 5.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    agencies: Iterable[str] = AGENCY_IDS,
    *,
    ports: Mapping[str, int] | None = None,
    latency: Mapping[str, int] | None = None,
    down: Iterable[str] = (),
    ephemeral: bool = False,
    base_port: int | None = None,
    ready_timeout: float = 20.0,
    quiet: bool = True,
) -> Sandbox:
    """Start agencies as subprocesses and wait until each answers its control route.

    ``base_port`` P puts the agencies on P to P+4; ``ephemeral`` picks free ports (for tests);
    otherwise the default ports 8701-8705. An agency of another run answering on a port fails the start.
    ``down`` agencies start answering every call with 503 in their own error format.
    """
    chosen = list(agencies)
    down_set = set(down)
    for agency in [*chosen, *down_set, *(latency or {})]:
        if agency not in AGENCY_IDS:
            raise SandboxStartError(f"unknown agency {agency!r}; known: {', '.join(AGENCY_IDS)}")
    port_map = {a: (ports or {}).get(a) or _port(a, base_port, ephemeral) for a in chosen}
    sandbox = Sandbox(ports=port_map, run_token=secrets.token_urlsafe(16))
    out = subprocess.DEVNULL if quiet else None
    env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_PID_ENV: str(os.getpid()), RUN_TOKEN_ENV: sandbox.run_token}
    try:
        for agency in chosen:
            cmd = [sys.executable, "-m", "sandbox", "serve", "--agency", agency, "--port", str(port_map[agency])]
            if latency and latency.get(agency):
                cmd += ["--latency", str(latency[agency])]
            if agency in down_set:
                cmd += ["--error-status", "503"]
            sandbox.processes[agency] = subprocess.Popen(cmd, stdout=out, stderr=out, env=env)
        _wait_ready(sandbox, ready_timeout)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox


def _port(agency: str, base_port: int | None, ephemeral: bool) -> int:
    if base_port is not None:
        return base_port + AGENCY_IDS.index(agency)
    return free_port() if ephemeral else DEFAULT_PORTS[agency]


def _wait_ready(sandbox: Sandbox, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(sandbox.processes)
    while pending:
        for agency in list(pending):
            proc = sandbox.processes[agency]
            if proc.poll() is not None:
                raise SandboxStartError(
                    f"{agency} exited with status {proc.returncode} (is port {sandbox.ports[agency]} free?)"
                )
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(sandbox.url(agency) + "/_sandbox/fault", timeout=1) as resp,
            ):
                if resp.status == 200 and resp.headers.get(RUN_TOKEN_HEADER) != sandbox.run_token:
                    raise SandboxStartError(
                        f"port {sandbox.ports[agency]} is served by another process, not the {agency} just started"
                    )
                if resp.status == 200:
                    pending.discard(agency)
        if pending and time.monotonic() > deadline:
            raise SandboxStartError(f"agencies not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.05)
