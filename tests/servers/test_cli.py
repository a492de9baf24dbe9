"""The server's command line and the local launcher fail fast, with one clear line, and leave nothing running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from federation.launcher import LocalNetwork

pytestmark = pytest.mark.integration  # every test starts the server or the launcher as a process

ROOT = Path(__file__).resolve().parents[2]


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "servers", "serve", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)


def test_an_unknown_company_is_refused_with_exit_2_and_no_traceback(tmp_path):
    env = {**os.environ, "RECARGA_BROKER_KEY": "k" * 32}
    done = serve("--company", "atlantis", "--data-dir", str(tmp_path), env=env)
    assert done.returncode == 2
    assert "unknown company 'atlantis'" in done.stderr and "Traceback" not in done.stderr


def test_a_server_without_a_broker_key_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECARGA_")}
    done = serve("--company", "voltpoint", "--data-dir", str(tmp_path), "--no-mqtt", env=env)
    assert done.returncode == 2 and done.stderr.startswith("error: a broker key of at least 16 characters")


def test_a_damaged_log_is_refused_at_start(tmp_path):
    import sqlite3

    from events.model import NewEvent
    from events.store import SqliteEventStore

    with SqliteEventStore(tmp_path / "voltpoint.db") as store:
        for i in range(3):
            store.append(f"s:{i}", [NewEvent("Happened", {"i": i})])
    with sqlite3.connect(tmp_path / "voltpoint.db") as conn:
        conn.execute("UPDATE events SET data = '{\"i\":99}' WHERE seq = 2")
    env = {**os.environ, "RECARGA_BROKER_KEY": "k" * 32}
    done = serve("--company", "voltpoint", "--data-dir", str(tmp_path), "--no-mqtt", "--port", "1", env=env)
    assert done.returncode == 2
    assert "damaged at seq 2" in done.stderr and "refusing to serve" in done.stderr


@pytest.mark.parametrize("url,says", [
    ("mysql://ana:s3cret@db/log", "unknown log scheme 'mysql'"),
    ("postgresql://ana:s3cret@127.0.0.1:{port}/log?connect_timeout=2", "cannot connect"),
])
def test_a_log_url_that_cannot_be_used_is_one_line_and_exit_2(tmp_path, url, says):
    from mosquitto import free_port

    env = {**os.environ, "RECARGA_BROKER_KEY": "k" * 32, "RECARGA_LOG_URL": url.format(port=free_port())}
    done = serve("--company", "voltpoint", "--data-dir", str(tmp_path), "--no-mqtt", "--port", "1", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "s3cret" not in done.stderr


def test_a_server_whose_log_is_a_file_never_loads_the_postgresql_driver(tmp_path):
    code = ("import sys; from servers.settings import Settings; from servers.bootstrap import build_server; "
            f"s = build_server(Settings(company='voltpoint', data_dir={str(tmp_path)!r}, broker_key='k' * 32)); "
            "print(s.store.head(), 'psycopg' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["0", "False"], done.stderr


def test_the_network_can_be_brought_down_when_nothing_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "federation", "down", "--run-dir", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "nothing is running" in done.stdout


def test_a_network_that_fails_to_start_leaves_no_process_behind(tmp_path):
    net = LocalNetwork(tmp_path, free_ports=True, mqtt=True)
    taken = net.companies["eflux"].api_port
    with socket.socket() as squatter:  # E-Flux's port is taken: its server exits at start
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(RuntimeError, match="eflux did not become healthy"):
            net.start(timeout=20)
    for cid, proc in net.companies.items():
        assert proc.server is not None and proc.server.poll() is not None, f"{cid}'s server still runs"
        assert proc.broker is not None and not proc.broker.running, f"{cid}'s broker still runs"


@pytest.mark.parametrize("command,says", [
    ("recarga", "serve"), ("recarga-vehicle", "drive"), ("recarga-events", "verify"), ("recarga-broker", "health"),
])
def test_the_installed_commands_work_from_any_folder(tmp_path, command, says):
    script = Path(sys.executable).parent / command  # installed by `make setup` (pip install -e .)
    assert script.exists(), f"{command} is not installed: run `make setup`"
    done = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, done.stderr
    assert f"Usage: {command}" in done.stdout and says in done.stdout
