"""``cardhub db status`` and ``cardhub db upgrade``, run as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from hub.cli_db import where
from tests.hub.test_cli import CARDHUB
from tests.hub.test_database import MIGRATED, make_premigration_database

ALL = ", ".join(MIGRATED)


def cardhub_db(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CARDHUB, "db", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CARDHUB_DATABASE_URL": database_url},
    )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/hub.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_status_then_upgrade_then_nothing_left(database_url: str) -> None:
    status = cardhub_db("status", database_url=database_url)
    assert status.returncode == 0, status.stderr
    assert status.stdout == (
        f"database: {database_url}\n"
        + "".join(f"  pending  {m}\n" for m in MIGRATED)
        + f"{len(MIGRATED)} pending ({ALL}): run `cardhub db upgrade`\n"
    )

    upgrade = cardhub_db("upgrade", database_url=database_url)
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout == "".join(f"applied {m}\n" for m in MIGRATED) + f"{database_url}: up to date ({ALL})\n"

    again = cardhub_db("upgrade", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{database_url}: already up to date ({ALL})\n"

    status = cardhub_db("status", "--json", database_url=database_url)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "database": database_url,
        "applied": MIGRATED,
        "pending": [],
        "unknown": [],
        "predatesMigrations": False,
        "lacking": [],
    }


async def test_two_upgrades_at_once_apply_each_migration_once(database_url: str) -> None:
    """Hub workers starting together, two deploy jobs: one migrates, the other waits and finds it done."""
    both = await asyncio.gather(*(asyncio.to_thread(cardhub_db, "upgrade", database_url=database_url) for _ in "ab"))
    assert [r.returncode for r in both] == [0, 0], [r.stderr for r in both]
    assert sorted(r.stdout.splitlines()[0] for r in both) == sorted(
        ["applied 0001_initial", f"{database_url}: already up to date ({ALL})"]
    )


async def test_upgrade_adopts_a_database_from_before_migrations(database_url: str) -> None:
    await make_premigration_database(database_url)
    status = cardhub_db("status", database_url=database_url)
    assert status.returncode == 0, status.stderr
    assert "made by a hub from before migrations: `cardhub db upgrade` adopts it" in status.stdout

    upgrade = cardhub_db("upgrade", database_url=database_url)
    assert upgrade.returncode == 0, upgrade.stderr
    assert upgrade.stdout.startswith("adopted 0001_initial: the tables of a hub from before migrations, data kept")
    assert cardhub_db("status", database_url=database_url).stdout.endswith("up to date\n")


async def test_a_database_that_cannot_be_adopted_is_refused_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/old.sqlite3"
    await make_premigration_database(url)
    import sqlite3

    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        db.execute('ALTER TABLE "client" DROP COLUMN "agency"')

    status = cardhub_db("status", database_url=url)
    assert status.returncode == 0, status.stderr
    assert "lacks columns this hub needs (client.agency)" in status.stdout

    upgrade = cardhub_db("upgrade", database_url=url)
    assert upgrade.returncode == 1
    assert upgrade.stderr.startswith("cardhub: refused: the database was made by an older hub")
    assert "Move it aside" in upgrade.stderr
    assert "Traceback" not in upgrade.stderr
    assert upgrade.stdout == ""


def test_an_unreachable_database_is_said_so_without_a_traceback() -> None:
    url = "postgres://hub:s3cret@127.0.0.1:9/cardhub"  # the discard port: nothing listens
    for command in ("status", "upgrade"):
        result = cardhub_db(command, database_url=url)
        assert result.returncode == 1
        assert result.stderr.startswith("cardhub: cannot reach the database postgres://hub:***@127.0.0.1:9/cardhub: ")
        assert "s3cret" not in result.stderr
        assert "Traceback" not in result.stderr


def test_where_hides_only_the_password() -> None:
    assert (
        where("postgres://hub:pw@db.example:5432/hub?maxsize=20") == "postgres://hub:***@db.example:5432/hub?maxsize=20"
    )
    assert where("postgres://postgres@127.0.0.1:5432/test") == "postgres://postgres@127.0.0.1:5432/test"
    assert where("sqlite://cardhub-data/cardhub.sqlite3") == "sqlite://cardhub-data/cardhub.sqlite3"
