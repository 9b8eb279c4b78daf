"""``cardhub card verify``, ``card keys fetch`` and ``card status``, run as a terminal operator and
the card centre run them, against the test hub's published keys and a scratch database."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from auth.card import qr
from auth.card.issuer import CardIssuer
from cardverify import Purpose
from keys.keyring import CARD, KeySet, generate
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

ROOT = Path(__file__).resolve().parents[2]
KEY = generate("2026-12")
LIBRARY = {"patron_valid": True, "borrowing_blocked": False}


def cardhub(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    script = "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", **(env or {})}, input=stdin,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def stored_keys(tmp_path: Path) -> Path:
    path = tmp_path / "card-keys.json"
    path.write_text(json.dumps(CardIssuer(KeySet.parse(CARD, KEY), "https://hub.example").jwks()))
    return path


def test_verify_reads_the_text_or_the_image_and_says_what_it_found(tmp_path: Path) -> None:
    keys = stored_keys(tmp_path)
    issued = CardIssuer(KeySet.parse(CARD, KEY), "https://hub.example").issue(Purpose.LIBRARY, "350200000001", LIBRARY)
    image = tmp_path / "code.png"
    image.write_bytes(qr.png(issued.text))
    for source in (["--text", issued.text], ["--image", str(image)]):
        done = cardhub("card", "verify", *source, "--keys", str(keys), "--purpose", "library")
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert shown["verified"] is True and shown["kid"] == "2026-12"
        assert shown["patron_valid"] is True and shown["borrowing_blocked"] is False
        assert "350200000001" not in done.stdout
    piped = cardhub("card", "verify", "--text", "-", "--keys", str(keys), "--purpose", "transit", stdin=issued.text)
    assert piped.returncode == 1
    assert json.loads(piped.stdout)["code"] == "WRONG_PURPOSE"
    late = cardhub("card", "verify", "--text", issued.text, "--keys", str(keys), "--purpose", "library", "--at", "4e9")
    assert late.returncode == 1 and json.loads(late.stdout)["code"] == "EXPIRED"
    blank = tmp_path / "blank.png"
    blank.write_bytes(image.read_bytes()[:40])
    broken = cardhub("card", "verify", "--image", str(blank), "--keys", str(keys), "--purpose", "library")
    assert broken.returncode == 2 and "not an image" in broken.stderr


async def test_keys_fetch_stores_the_hubs_key_set_for_offline_use(hub: RunningHub, tmp_path: Path) -> None:
    out = tmp_path / "keys.json"
    done = await asyncio.to_thread(cardhub, "card", "keys", "fetch", hub.url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "stored 1 key(s)" in done.stdout
    assert json.loads(out.read_text())["keys"][0]["kid"] == "sandbox"
    token = await hub.token(PERSONAS[0].card_number)
    _, body = await hub.graphql("mutation { issueCardCredential(purpose: IDENTITY) { text } }", token)
    text = body["data"]["issueCardCredential"]["text"]
    checked = await asyncio.to_thread(
        cardhub, "card", "verify", "--text", text, "--keys", str(out), "--purpose", "identity"
    )
    assert checked.returncode == 0, checked.stdout
    nothing = await asyncio.to_thread(cardhub, "card", "keys", "fetch", hub.url + "/healthz", "--out", str(out))
    assert nothing.returncode == 2
    assert json.loads(out.read_text())["keys"][0]["kid"] == "sandbox"  # a failed fetch keeps the set stored


def test_status_reports_a_card_lost_then_cancelled_and_a_cancelled_card_stays_so(tmp_path: Path) -> None:
    env = {"CARDHUB_MODE": "sandbox", "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/s.sqlite3"}
    card = PERSONAS[0].card_number
    seed = "import asyncio, sys; from hub import database; from hub.sandbox_seed import seed_registry\n"
    seed += "async def run():\n    async with database.connected(sys.argv[1]):\n        await seed_registry()\n"
    seed += "asyncio.run(run())"
    seeded = subprocess.run([sys.executable, "-c", seed, env["CARDHUB_DATABASE_URL"]], cwd=ROOT, check=False,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    lost = cardhub("card", "status", card, "lost", env=env)
    assert lost.returncode == 0, lost.stderr
    assert lost.stdout.startswith(f"card {card}: ACTIVE -> SUSPENDED; no new virtual card credentials")
    assert cardhub("card", "status", card, "active", env=env).stdout.startswith(f"card {card}: SUSPENDED -> ACTIVE")
    assert cardhub("card", "status", card, "cancelled", env=env).returncode == 0
    again = cardhub("card", "status", card, "active", env=env)
    assert again.returncode == 2 and "cancelled" in again.stderr
    unknown = cardhub("card", "status", "999999999999", "lost", env=env)
    assert unknown.returncode == 2 and "no card" in unknown.stderr
