from __future__ import annotations

import socket

import pytest

from sandbox import runner


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
