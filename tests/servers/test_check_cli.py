"""`python -m federation check` as the README runs it: on a real network's data dir (snapshot files and all),
and on damaged files (one line, a non-zero exit, never a traceback)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from events.model import NewEvent
from events.store import SqliteEventStore
from tests.live import LiveNetworks, signup_form

pytestmark = pytest.mark.integration  # `federation check` runs as a process

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a person types it in a shell, so the shell expands the glob."""
    line = f"{sys.executable} -m federation check {' '.join(args)}"
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def run_dir(live_network: LiveNetworks, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real network's run directory after a booking across companies (its servers stopped)."""
    home = tmp_path_factory.mktemp("check")
    with live_network(run_dir=home / "run", mqtt=False) as net:
        api = net.companies["voltpoint"].api_url
        signed_up = httpx.post(f"{api}/api/v1/accounts", json=signup_form(7101), timeout=30).raise_for_status()
        token = signed_up.json()["token"]
        leave = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        booked = httpx.post(f"{api}/api/v1/trips", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                            json={"origin": "salvador", "destination": "fortaleza", "departure": leave})
        assert booked.status_code == 201, booked.text
        violations, _ = net.settle()
        assert not violations
    return home


def test_the_readmes_check_command_works_on_a_real_data_dir(run_dir):
    data = sorted(p.name for p in (run_dir / "run" / "data").glob("*.db"))
    assert any(name.endswith(".snapshots.db") for name in data), data  # what the glob also takes
    done = check("run/data/*.db", "--converged", cwd=run_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 violation(s)" in done.stdout and "of 3 log(s)" in done.stdout
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3 and all("snapshot file" in line for line in skipped), done.stderr


def test_only_snapshot_files_is_an_error_not_a_clean_bill(tmp_path):
    from events.snapshots import SnapshotStore

    SnapshotStore(tmp_path / "x.snapshots.db").close()
    done = check("*.db", cwd=tmp_path)
    assert done.returncode == 2 and "no event log" in done.stderr


def _log_of_400_events(path: Path) -> None:
    with SqliteEventStore(path) as store:
        for i in range(400):
            store.append(f"account:v{i}", [NewEvent("AccountOpened", {"vehicle_id": f"v{i}", "name": "x" * 200})])
    with sqlite3.connect(path) as conn:  # everything into the main file, so the damage hits real pages
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def flip_64_bytes_mid_file(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    for i in range(middle, middle + 64):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def overwrite_a_table_page(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    page = 4096  # SQLite's default page size; page 2 is the first page of the events table
    raw[page:2 * page] = b"\xa5" * page
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [flip_64_bytes_mid_file, overwrite_a_table_page], ids=lambda f: f.__name__)
def test_a_damaged_file_is_one_line_and_a_non_zero_exit(tmp_path, damage):
    log = tmp_path / "voltpoint.db"
    _log_of_400_events(log)
    damage(log)
    done = check(str(log), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {log}: damaged SQLite file"), done.stderr
    assert "\ufffd" not in lines[0]  # the damaged bytes are not echoed


def test_a_broken_hash_chain_still_names_the_sequence(tmp_path):
    log = tmp_path / "voltpoint.db"
    _log_of_400_events(log)
    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE events SET data = replace(data, 'v7', 'v8') WHERE seq = 8")
    done = check(str(log), cwd=tmp_path)
    assert done.returncode == 1 and "damaged at seq 8" in done.stderr and "Traceback" not in done.stderr
