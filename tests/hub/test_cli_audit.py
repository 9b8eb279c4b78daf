"""``cardhub audit verify|checkpoint|prove|sequence`` (hub/cli_audit.py), on copies of the session hub's
database, and the checkpoint key a production hub refuses to start without, or with a wrong one."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from auth.audit.checkpoints import CheckpointKeyError, CheckpointSigner, VerifierKey, check_key, parse_and_verify
from auth.audit.sequencer import Sequencer
from hub import settings as settings_module
from hub.settings import SettingsError
from keys.keyring import CHECKPOINT, KeySet
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub
from tests.hub.test_cli import cardhub
from tests.production import production_env

CARD = PERSONAS[2].card_number


async def snapshot(hub: RunningHub, tmp_path: Path) -> dict[str, str | None]:
    """After a read of CARD is in a signed checkpoint: a copy of the hub's database, as CLI env."""
    await hub.graphql("{ me { transit { balance } } }", await hub.token(CARD))
    sequencer: Sequencer = hub.app.state.audit_sequencer
    for _ in range(100):
        if sequencer.status.pending == 0 and sequencer.status.tree_size > 0:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(hub.settings.database_url.removeprefix("sqlite://")) as source, sqlite3.connect(copy) as db:
        source.backup(db)
    return {"CARDHUB_DATABASE_URL": f"sqlite://{copy}", "CARDHUB_MODE": "sandbox"}


async def run(*args: str, env: dict[str, str | None]) -> tuple[int, str]:
    result = await asyncio.to_thread(cardhub, "audit", *args, env=env)
    return result.returncode, result.stdout + result.stderr


async def test_checkpoint_prints_the_signed_note_and_its_keys_verify_it(hub: RunningHub, tmp_path: Path) -> None:
    env = await snapshot(hub, tmp_path)
    code, note = await run("checkpoint", env=env)
    assert code == 0 and note.startswith("127.0.0.1/audit\n")
    code, keys = await run("checkpoint", "--keys", env=env)
    assert code == 0 and "# key id sandbox" in keys
    vkeys = [VerifierKey.parse(line.split("  #")[0]) for line in keys.splitlines()]
    assert parse_and_verify(note, vkeys).size > 0


async def test_prove_checks_a_citizens_entries_with_the_citizens_verifier(hub: RunningHub, tmp_path: Path) -> None:
    env = await snapshot(hub, tmp_path)
    code, out = await run("prove", "--card", CARD, env=env)
    assert code == 0, out
    assert f"entries of card {CARD} proved in the checkpoint of size" in out
    with sqlite3.connect(str(env["CARDHUB_DATABASE_URL"]).removeprefix("sqlite://")) as db:
        mine = "SELECT max(id) FROM audit_record WHERE citizen = ? AND seq IS NOT NULL"
        victim = db.execute(mine, (CARD,)).fetchone()[0]
        db.execute("UPDATE audit_record SET client_id = 'someone-else' WHERE id = ?", (victim,))
    code, out = await run("prove", "--card", CARD, env=env)
    assert code == 1 and f"record {victim}" in out


async def test_verify_against_a_kept_checkpoint_names_a_truncation(hub: RunningHub, tmp_path: Path) -> None:
    env = await snapshot(hub, tmp_path)
    code, note = await run("checkpoint", env=env)
    kept = tmp_path / "witness.txt"
    kept.write_text(note)
    assert (await run("verify", "--against", str(kept), env=env))[0] == 0
    with sqlite3.connect(str(env["CARDHUB_DATABASE_URL"]).removeprefix("sqlite://")) as db:
        size = db.execute("SELECT max(tree_size) FROM audit_checkpoint").fetchone()[0]
        db.execute("DELETE FROM audit_record WHERE seq >= ?", (size - 1,))
        db.execute('DELETE FROM audit_node WHERE level = 0 AND "index" >= ?', (size - 1,))
        db.execute("DELETE FROM audit_checkpoint WHERE tree_size >= ?", (size - 1,))
    code, out = await run("verify", "--against", str(kept), env=env)
    assert code == 1
    assert f"audit log broken: checkpoint {size}: the checkpoint kept elsewhere signed {size} records" in out


async def test_verify_names_a_forged_kept_checkpoint(hub: RunningHub, tmp_path: Path) -> None:
    env = await snapshot(hub, tmp_path)
    other = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "http://127.0.0.1")
    forged = tmp_path / "forged.txt"
    forged.write_text(other.sign(1, bytes(32)))
    code, out = await run("verify", "--against", str(forged), env=env)
    assert code == 1 and "checkpoint kept elsewhere" in out and "signed by no key" in out


async def test_sequence_once_integrates_what_waits(hub: RunningHub, tmp_path: Path) -> None:
    env = await snapshot(hub, tmp_path)
    with sqlite3.connect(str(env["CARDHUB_DATABASE_URL"]).removeprefix("sqlite://")) as db:
        db.execute(
            "INSERT INTO audit_record (at_ms, request_id, client_id, citizen, sections, outcome, reason, nonce) "
            "VALUES (1, 'r', 'c', ?, 'transit', 'ALLOWED', '', ?)",
            (CARD, "0" * 32),
        )
    assert await run("sequence", "--once", env=env) == (0, "sequenced 1 records\n")
    code, out = await run("verify", env=env)
    assert code == 0 and "(0 not yet in the tree)" in out


def test_production_refuses_to_start_without_a_checkpoint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    env = production_env()
    env.pop("CARDHUB_CHECKPOINT_KEY")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CARDHUB_CHECKPOINT_KEY", raising=False)
    with pytest.raises(
        SettingsError, match=r"production needs these settings: checkpoint_key \(CARDHUB_CHECKPOINT_KEY\)"
    ):
        settings_module.load()
    monkeypatch.setenv("CARDHUB_CHECKPOINT_KEY", "k1:not-a-key")
    with pytest.raises(SettingsError, match="CARDHUB_CHECKPOINT_KEY"):
        settings_module.load()


async def test_a_wrong_checkpoint_key_refuses_to_start(hub: RunningHub) -> None:
    """The key the log's latest checkpoint was signed with must be listed: else production refuses."""
    await hub.graphql("{ me { transit { balance } } }", await hub.token(CARD))
    for _ in range(100):
        if hub.app.state.audit_sequencer.status.tree_size > 0:
            break
        await asyncio.sleep(0.05)
    right: CheckpointSigner = hub.app.state.audit_sequencer.signer
    await check_key(right, CHECKPOINT.env)
    wrong = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), hub.settings.issuer_url)
    with pytest.raises(CheckpointKeyError, match="CARDHUB_CHECKPOINT_KEY: the access log's latest checkpoint"):
        await check_key(wrong, CHECKPOINT.env)
    rotated = CheckpointSigner.from_keys(
        KeySet(CHECKPOINT, (wrong.signer.keys.current, right.signer.keys.current)), hub.settings.issuer_url
    )
    await check_key(rotated, CHECKPOINT.env)  # a new key first, the old one still listed: fine
