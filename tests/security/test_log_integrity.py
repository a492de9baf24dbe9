"""A damaged event log is detected by `python -m events verify` and refused by the server at start.

Damage: a row's data edited, a middle row deleted, two rows swapped. The hash
chain cannot see rows cut off at the END (the remaining prefix is a valid
chain): that test pins the limitation, so whoever adds an external anchor
(e.g. the head hash published to peers) changes it on purpose.
Also here: a token whose expiry has passed is refused (TOKEN_TTL is 12 h and
not configurable, so the expired token is written into the log, legitimately
appended, before the server starts).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from contract.models import SignupIn
from events.model import NewEvent, StreamAppend
from events.store import SqliteEventStore
from mosquitto import free_port
from servers.bootstrap import build_server
from servers.service.accounts import Session
from servers.service.secrets import new_token, token_hash
from servers.settings import Settings
from tests.live import signup_form
from tests.waiting import eventually

pytestmark = pytest.mark.integration
COMPANY = "voltpoint"
ROOT = Path(__file__).resolve().parents[2]
BROKER_KEY = "test-broker-key-" + "0" * 16  # a required setting (>= 16 chars); any value serves a test log


def settings(data: Path) -> Settings:
    return Settings(company=COMPANY, data_dir=data, mqtt=False, broker_key=BROKER_KEY)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A real log written by a real server (three sign-ups): (its data dir, a vehicle id, its token)."""
    data = tmp_path_factory.mktemp("pristine")
    server = build_server(settings(data))

    async def sign_up() -> list[Session]:
        try:
            found = [await server.accounts.signup(SignupIn.model_validate(signup_form(seed))) for seed in (61, 62, 63)]
            await server.engine.durable()
            return found
        finally:
            await server.close()

    sessions = asyncio.run(sign_up())
    return data, sessions[0].vehicle_id, sessions[0].token


def copy_log(pristine: tuple[Path, str, str], tmp_path: Path, damage: Callable[[sqlite3.Connection], None]) -> Path:
    data = tmp_path / "data"
    shutil.copytree(pristine[0], data)
    with sqlite3.connect(data / f"{COMPANY}.db") as db:
        damage(db)
    return data


def edit_a_row(db: sqlite3.Connection) -> None:
    db.execute("UPDATE events SET data = replace(data, '300000', '999999') WHERE seq = 3")
    assert db.total_changes == 1


def delete_a_middle_row(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM events WHERE seq = 4")


def swap_two_rows(db: sqlite3.Connection) -> None:
    # Seq 2 and 5 are both the second event of their account's stream: swap what they say and when.
    cols = "type, recorded_at, data"
    a = db.execute(f"SELECT {cols} FROM events WHERE seq = 2").fetchone()
    b = db.execute(f"SELECT {cols} FROM events WHERE seq = 5").fetchone()
    assert a != b
    for seq, row in ((2, b), (5, a)):
        db.execute("UPDATE events SET type=?, recorded_at=?, data=? WHERE seq=?", (*row, seq))


def cut_the_end(db: sqlite3.Connection) -> None:
    head = db.execute("SELECT max(seq) FROM events").fetchone()[0]
    db.execute("DELETE FROM events WHERE seq > ?", (head - 3,))


def verify_cli(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "events", "verify", str(data / f"{COMPANY}.db")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def serve(data: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "servers", "serve", "--company", COMPANY, "--data-dir", str(data),
                             "--no-mqtt", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={"PATH": "/usr/bin:/bin", "RECARGA_BROKER_KEY": BROKER_KEY})


@pytest.mark.parametrize("damage", [edit_a_row, delete_a_middle_row, swap_two_rows], ids=lambda f: f.__name__)
def test_a_damaged_log_is_detected_and_the_server_refuses_to_serve_from_it(pristine, tmp_path, damage):
    data = copy_log(pristine, tmp_path, damage)
    verdict = verify_cli(data)
    assert verdict.returncode == 1, verdict.stdout + verdict.stderr
    assert "TAMPERED at seq" in verdict.stdout
    with pytest.raises(RuntimeError, match="damaged"):
        build_server(settings(data))
    proc = serve(data, free_port())
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode not in (0, None)
    assert "damaged" in out and f"{COMPANY}.db" in out, out


def test_rows_cut_off_at_the_end_leave_a_valid_chain_a_known_limit(pristine, tmp_path):
    whole = verify_cli(pristine[0])
    data = copy_log(pristine, tmp_path, cut_the_end)
    cut = verify_cli(data)
    assert whole.returncode == 0 and cut.returncode == 0  # the chain alone cannot tell
    # What does tell: the count of events (and the head hash) a peer or a backup saw before.
    assert whole.stdout != cut.stdout and "intact (" in cut.stdout


def test_an_intact_copy_verifies_and_serves(pristine, tmp_path):
    data = copy_log(pristine, tmp_path, lambda db: None)
    assert verify_cli(data).returncode == 0


def test_an_expired_token_is_refused_and_a_live_one_is_accepted(pristine, tmp_path):
    data = copy_log(pristine, tmp_path, lambda db: None)
    _, vehicle, live = pristine
    expired = new_token()
    with SqliteEventStore(data / f"{COMPANY}.db") as store:  # a legitimate append: the chain stays intact
        store.append_streams([StreamAppend(f"account:{vehicle}", (NewEvent("TokenIssued", {
            "vehicle_id": vehicle, "token_hash": token_hash(expired),
            "expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}),))])
    port = free_port()
    proc = serve(data, port)
    try:
        eventually(lambda: proc.poll() is not None or httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1),
                   timeout=60, every=0.2, ignoring=(httpx.HTTPError,))
        me = f"http://127.0.0.1:{port}/api/v1/me"
        refused = httpx.get(me, headers={"Authorization": "Bearer " + expired})
        assert (refused.status_code, refused.json()["code"]) == (401, "BAD_TOKEN")
        assert httpx.get(me, headers={"Authorization": "Bearer " + live}).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
