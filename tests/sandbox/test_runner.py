from __future__ import annotations

import socket
import subprocess

import pytest

from sandbox import runner
from sandbox.agencies import AGENCY_IDS


def test_unknown_agency_is_refused_before_anything_starts() -> None:
    with pytest.raises(runner.SandboxStartError, match="unknown agency 'parking'"):
        runner.start(["parking"], ephemeral=True)
    with pytest.raises(runner.SandboxStartError, match="unknown agency"):
        runner.start(down=["parking"], ephemeral=True)


def test_a_taken_port_is_reported_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(runner.SandboxStartError, match=f"is port {port} free"):
            runner.start(["library"], ports={"library": port})


def test_agency_configs_cover_three_auth_styles() -> None:
    configs = runner.agency_configs()
    assert {c["auth"] for c in configs.values()} == {"api_key", "oauth2_client_credentials", "hmac"}


def free_block(size: int = 5) -> int:
    """A port P with P to P+size-1 all free just now."""
    for _ in range(50):
        base = runner.free_port()
        if base + size < 65536 and all(_free(base + i) for i in range(size)):
            return base
    raise AssertionError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((runner.HOST, port)) != 0


def test_base_port_places_the_agencies_in_order() -> None:
    base = free_block()
    with runner.start(base_port=base) as sandbox:
        assert sandbox.ports == {agency: base + i for i, agency in enumerate(AGENCY_IDS)}
        assert all(not _free(port) for port in sandbox.ports.values())


def test_an_agency_of_another_run_is_not_taken_for_ours() -> None:
    """A demo left running answers on the port before our agency has failed to bind: fail, naming it."""
    with runner.start(["library"], ephemeral=True) as other:
        port = other.ports["library"]
        ours = runner.Sandbox(ports={"library": port}, run_token="this-run")
        # Our process, still alive (it has not yet noticed that the port is taken).
        ours.processes["library"] = subprocess.Popen(["sleep", "30"])
        try:
            with pytest.raises(runner.SandboxStartError, match=f"port {port} is served by another process"):
                runner._wait_ready(ours, timeout=5)
        finally:
            ours.stop()
