"""A full disk and a read-only disk under one company's event log: refuse new work, lose nothing committed.

VoltPoint's log lives on a small tmpfs mounted for the test (RECARGA_LOG_PATH);
E-Flux and EcoCharge keep theirs on the ordinary disk. We confirm some trips,
then fill the tmpfs (or remount it read-only): sign-ups and bookings at
VoltPoint must be refused with 503 LOG_UNWRITABLE (never a 500, never a
crash). Then we free the space (or remount read-write), restart VoltPoint and
demand that every trip ever confirmed is still there and every invariant holds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from events.store import SqliteEventStore
from federation.launcher import LocalNetwork
from tests.live import DURABLE, LiveNetworks, signup_form

pytestmark = pytest.mark.integration
HOME = "voltpoint"


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards whatever happens; skipped where mounting is not permitted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); run these tests as root or in the CI container")
    done = mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk))
    if done.returncode != 0:
        pytest.skip(f"mount is not permitted here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        mount("-o", "remount,rw", str(disk))
        if subprocess.run(["umount", str(disk)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=False)  # a straggler still holds a file


@pytest.fixture
def net(live_network: LiveNetworks, tmp_path: Path, small_disk: Path) -> Iterator[LocalNetwork]:
    with live_network(run_dir=tmp_path / "run", mqtt=False, env=DURABLE,
                      log_paths={HOME: small_disk / f"{HOME}.db"}) as running:
        yield running


def _logs(net: LocalNetwork) -> dict[str, list]:
    """Every company's events, each log's hash chain checked first."""
    for cid in net.companies:
        with SqliteEventStore(net.log_path(cid), create=False) as store:
            assert store.verify().ok, cid
    return net.read_logs()


class Home:
    """A driver at VoltPoint, over REST."""

    def __init__(self, net: LocalNetwork, seed: int) -> None:
        self.base = net.companies[HOME].api_url
        r = httpx.post(self.base + "/api/v1/accounts", json=signup_form(seed), timeout=30)
        assert r.status_code == 201, r.text
        self.auth = {"Authorization": "Bearer " + r.json()["token"]}

    def book(self, hours: int) -> httpx.Response:
        when = time.strftime("%Y-%m-%dT%H:00:00+00:00", time.gmtime(time.time() + hours * 3600))
        return httpx.post(self.base + "/api/v1/trips", headers=self.auth, timeout=30,
                          json={"origin": "salvador", "destination": "fortaleza", "departure": when})


def _confirm_some(net: LocalNetwork) -> tuple[Home, set[str]]:
    driver = Home(net, seed=4242)
    trips = set()
    for hours in (8, 56, 104):  # Salvador → Fortaleza takes about a day: one car, one trip at a time
        r = driver.book(hours)
        assert r.status_code == 201, r.text
        trips.add(r.json()["trip_id"])
    return driver, trips


def _refused_unwritable(r: httpx.Response) -> bool:
    return r.status_code == 503 and r.json()["code"] == "LOG_UNWRITABLE" and "cannot be written" in r.json()["message"]


def _fill(disk: Path) -> Path:
    """Write a file until the tmpfs is full (bounded by its size)."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as out:  # closing a full file raises too
        for _ in range(4096):  # 4096 × 4 KiB = 16 MiB, far more than the 2 MiB disk
            out.write(b"\0" * 4096)
            out.flush()
    return filler


def _survivors(net: LocalNetwork, before: set[str]) -> None:
    """Restart the home server: it must start from the log and still hold every confirmed trip."""
    net.kill_server(HOME)
    net.start_server(HOME, timeout=60)
    assert net.settle()[0] == []
    committed = {e.data["trip_id"] for e in _logs(net)[HOME] if e.type == "TripCommitted"}
    assert before <= committed, f"lost: {before - committed}"
    confirmed_elsewhere = {e.data["trip_id"] for cid in ("ecocharge", "eflux")
                           for e in _logs(net)[cid] if e.type == "HoldsConfirmed"}
    assert before <= confirmed_elsewhere


def test_a_full_disk_refuses_new_work_with_log_unwritable_and_loses_nothing(net, small_disk):
    driver, confirmed = _confirm_some(net)
    filler = _fill(small_disk)
    # SQLite may still fit a small append in pages its WAL already owns, so try a few times (bounded):
    # every answer must be either a success or a clean LOG_UNWRITABLE, and at least one must be refused.
    answers = []
    for i in range(12):
        r = driver.book(150 + 48 * i)
        answers.append(r)
        if r.status_code == 201:
            confirmed.add(r.json()["trip_id"])
        elif _refused_unwritable(r):
            break
    assert all(r.status_code == 201 or _refused_unwritable(r) or r.status_code == 409 for r in answers), \
        [(r.status_code, r.text) for r in answers]
    assert _refused_unwritable(answers[-1]), "the full disk never refused a booking"
    signup = httpx.post(net.companies[HOME].api_url + "/api/v1/accounts", json=signup_form(4343), timeout=30)
    assert _refused_unwritable(signup), signup.text
    assert httpx.get(net.companies[HOME].api_url + "/api/v1/health").status_code == 200  # still serving reads
    filler.unlink()  # space is back: the same process serves again without a restart
    again = driver.book(800)
    assert again.status_code in (201, 409), again.text
    if again.status_code == 201:
        confirmed.add(again.json()["trip_id"])
    _survivors(net, confirmed)


def test_a_read_only_disk_refuses_new_work_and_loses_nothing(net, small_disk):
    driver, confirmed = _confirm_some(net)
    # Linux refuses to remount read-only while a process has a file open for writing (EBUSY), so the
    # server is stopped, the disk remounted read-only, and the server started again on it.
    net.kill_server(HOME, signal.SIGTERM)
    done = mount("-o", "remount,ro", str(small_disk))
    assert done.returncode == 0, done.stderr
    try:
        proc = net.companies[HOME]
        net.start_server(HOME, wait=False)
        try:
            net.wait_healthy(HOME, 30)
        except RuntimeError:
            # Refusing to start on a log it cannot write is a clear refusal too: exit non-zero, say why.
            assert proc.server is not None and proc.server.wait(10) != 0
            assert proc.log_path is not None
            tail = proc.log_path.read_text()[-2000:]
            # Today it dies of an uncaught NotAnEventLog ("not an SQLite database (unable to open database
            # file)") with a traceback, not `serve`'s one-line "error: …": it names the file but not the cause
            # (read-only). Reported to the lead (docs/reliability.md); here we hold what must never change.
            assert str(net.log_path(HOME)) in tail, tail
        else:
            r = driver.book(150)
            assert _refused_unwritable(r), (r.status_code, r.text)
            signup = httpx.post(proc.api_url + "/api/v1/accounts", json=signup_form(4444), timeout=30)
            assert _refused_unwritable(signup), signup.text
            me = httpx.get(proc.api_url + "/api/v1/me", headers=driver.auth)
            assert me.status_code == 200 and set(me.json()["trips"]) >= confirmed  # reads still work
    finally:
        net.kill_server(HOME)
        assert mount("-o", "remount,rw", str(small_disk)).returncode == 0
    _survivors(net, confirmed)
