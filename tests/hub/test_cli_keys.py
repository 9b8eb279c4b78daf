"""``cardhub keys`` and ``cardhub secrets rotate``, run as an operator runs them: a rotation of the
secrets key, start to end, on a scratch database, with the rows read straight from the file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from keys.keyring import SECRETS, KeySet, generate
from sandbox import credentials
from tests.hub.test_cli import CARDHUB, cardhub

SECRETS_IN_MANIFESTS = (
    credentials.TRANSIT_CLIENT_SECRET,
    credentials.LIBRARY_API_KEY,
    credentials.HEALTH_API_KEY,
)


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT manifest FROM connector_version")]


def key_ids(db: Path) -> set[str]:
    return {json.loads(m)["auth"]["secret"].split(".")[2] for m in stored(db) if "secret" in json.loads(m)["auth"]}


def test_generate_prints_a_key_the_hub_accepts_and_list_never_shows_one(tmp_path: Path) -> None:
    made = cardhub("keys", "generate", "--kid", "2026-12")
    assert made.returncode == 0, made.stderr
    entry = made.stdout.strip()
    assert KeySet.parse(SECRETS, entry).current.kid == "2026-12"
    env = {"CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/k.sqlite3", "CARDHUB_SECRETS_KEY": entry}
    listed = cardhub("keys", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["purpose"]: r for r in json.loads(listed.stdout)}
    assert rows["secrets"]["kids"] == ["2026-12"] and rows["secrets"]["source"] == "set"
    assert rows["cache"]["source"] == "public sandbox key"
    assert entry.split(":")[1] not in listed.stdout


def test_a_rotation_reseals_every_stored_secret_and_the_old_key_can_then_go(tmp_path: Path) -> None:
    db = tmp_path / "rotate.sqlite3"
    old, new = generate("old"), generate("new")
    env = {"CARDHUB_DATABASE_URL": f"sqlite://{db}"}
    seeded = cardhub("connectors", "list", env={**env, "CARDHUB_SECRETS_KEY": old})  # seeds the built-ins
    assert seeded.returncode == 0, seeded.stderr
    assert key_ids(db) == {"old"}
    assert not any(secret in row for row in stored(db) for secret in SECRETS_IN_MANIFESTS)

    # Step 1: the new key first, the old one after it. Step 2: re-seal.
    rotated = cardhub("secrets", "rotate", env={**env, "CARDHUB_SECRETS_KEY": f"{new},{old}"})
    assert rotated.returncode == 0, rotated.stderr
    assert "re-sealed 5 of 5 connector versions under key new" in rotated.stdout
    assert key_ids(db) == {"new"}
    again = cardhub("secrets", "rotate", env={**env, "CARDHUB_SECRETS_KEY": f"{new},{old}"})
    assert "re-sealed 0 of 5" in again.stdout

    # Step 3: the old key goes; everything still opens. Dropping the new one instead is refused, clearly.
    shown = cardhub("connectors", "show", "library", env={**env, "CARDHUB_SECRETS_KEY": new})
    assert shown.returncode == 0, shown.stderr
    refused = cardhub("connectors", "show", "library", env={**env, "CARDHUB_SECRETS_KEY": old})
    assert refused.returncode != 0
    assert "sealed under key 'new', which is not among the CARDHUB_SECRETS_KEY keys" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_rotation_that_cannot_open_a_secret_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "half.sqlite3"
    env = {"CARDHUB_DATABASE_URL": f"sqlite://{db}"}
    assert cardhub("connectors", "list", env={**env, "CARDHUB_SECRETS_KEY": generate("a")}).returncode == 0
    before = stored(db)
    failed = cardhub("secrets", "rotate", env={**env, "CARDHUB_SECRETS_KEY": generate("b")})
    assert failed.returncode == 1
    assert "nothing was changed" in failed.stderr
    assert stored(db) == before


def test_a_secret_stored_in_the_clear_by_an_older_release_is_sealed_by_rotate(tmp_path: Path) -> None:
    db = tmp_path / "legacy.sqlite3"
    env = {"CARDHUB_DATABASE_URL": f"sqlite://{db}", "CARDHUB_SECRETS_KEY": generate("now")}
    assert cardhub("connectors", "list", env=env).returncode == 0
    with sqlite3.connect(db) as connection:  # as releases before sealing stored it
        row_id, text = connection.execute(
            "SELECT id, manifest FROM connector_version WHERE agency='library'"
        ).fetchone()
        data = json.loads(text)
        data["auth"]["secret"] = credentials.LIBRARY_API_KEY
        connection.execute("UPDATE connector_version SET manifest=? WHERE id=?", (json.dumps(data), row_id))
    shown = cardhub("connectors", "show", "library", env=env)  # still readable, with a warning in the log
    assert shown.returncode == 0, shown.stderr
    rotated = cardhub("secrets", "rotate", env=env)
    assert "re-sealed 1 of 5" in rotated.stdout
    assert not any(credentials.LIBRARY_API_KEY in row for row in stored(db))
    assert key_ids(db) == {"now"}


def test_long_work_shows_progress_on_a_terminal_and_nothing_when_piped(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess

    env = {**os.environ, "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/p.sqlite3", "CARDHUB_SECRETS_KEY": generate("a")}
    assert cardhub("connectors", "list", env=env).returncode == 0
    piped = cardhub("secrets", "rotate", env=env)
    assert piped.stderr == "" and "re-sealing" not in piped.stdout

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [CARDHUB, "secrets", "rotate"], env=env, stdout=subprocess.PIPE, stderr=follower, timeout=60, check=False
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"re-sealing stored connector secrets" in seen
