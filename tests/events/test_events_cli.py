"""`python -m events`: every subcommand, its output, and exit codes a script can trust."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from events.cli import app
from events.model import StreamAppend
from events.store import SqliteEventStore
from tests.events.helpers import ROOT, ev

runner = CliRunner()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    with SqliteEventStore(path) as store:
        store.set_meta("fold", "events.examples:LEDGER")
        store.append("account:1", [ev("AccountOpened", owner="ana"), ev("Credited", amount=500)])
        store.append_streams([StreamAppend("account:2", (ev("AccountOpened", owner="bo"),)),
                              StreamAppend("trip:9", (ev("TripDecided", ok=True),))])
        store.append("account:1", [ev("Debited", amount=700)])
    return path


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_summary_counts_by_prefix_and_type(log: Path) -> None:
    result = runner.invoke(app, ["summary", str(log), "--json"])
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["head"] == 5 and info["fold"] == "events.examples:LEDGER"
    by_prefix = {p["prefix"]: (p["events"], p["streams"]) for p in info["by_prefix"]}
    assert by_prefix == {"account": (4, 2), "trip": (1, 1)}
    assert info["by_type"]["AccountOpened"] == 2 and info["file_bytes"] > 0


def test_summary_prints_a_readable_table(log: Path) -> None:
    result = runner.invoke(app, ["summary", str(log)])
    assert result.exit_code == 0
    assert "account" in result.stdout and "events.examples:LEDGER" in result.stdout


def test_list_json_prints_one_parseable_event_per_line(log: Path) -> None:
    result = runner.invoke(app, ["list", str(log), "--json"])
    assert result.exit_code == 0
    assert [e["seq"] for e in _lines(result.stdout)] == [1, 2, 3, 4, 5]


def test_list_filters_by_type_stream_seq_and_limit(log: Path) -> None:
    def seqs(*args: str) -> list[object]:
        result = runner.invoke(app, ["list", str(log), "--json", *args])
        assert result.exit_code == 0, result.output
        return [e["seq"] for e in _lines(result.stdout)]

    assert seqs("--type", "Credited", "--type", "Debited") == [2, 5]
    assert seqs("--stream", "account:1") == [1, 2, 5]
    assert seqs("--after", "2", "--until", "4") == [3, 4]
    assert seqs("--limit", "2") == [1, 2]
    everything = [1, 2, 3, 4, 5]
    assert seqs("--since", "2000-01-01T00:00:00", "--until-time", "2999-01-01T00:00:00+00:00") == everything
    assert seqs("--until-time", "2000-01-01") == []


def test_list_prints_a_table_by_default(log: Path) -> None:
    result = runner.invoke(app, ["list", str(log), "--type", "TripDecided"])
    assert result.exit_code == 0 and "trip:9" in result.stdout and "account:1" not in result.stdout


def test_state_uses_the_fold_named_in_meta(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["seq"] == 5 and out["fold"] == "events.examples:LEDGER"
    assert out["state"]["accounts"]["1"]["balance"] == -200


def test_state_at_a_seq_rebuilds_the_past(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--at", "2", "--json"])
    assert json.loads(result.stdout)["state"]["accounts"]["1"]["balance"] == 500


def test_state_at_a_time_before_the_log_is_the_initial_state(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--at-time", "2000-01-01T00:00:00Z", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["seq"] == 0


def test_state_prints_the_whole_state_readably_with_full(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--full"])
    assert result.exit_code == 0 and "state at seq 5" in result.stdout and "balance" in result.stdout


def test_state_prints_a_summary_by_default(log: Path) -> None:
    whole = runner.invoke(app, ["state", str(log), "--json"]).stdout
    parts = json.loads(whole)["state"]
    result = runner.invoke(app, ["state", str(log)])
    assert result.exit_code == 0 and "state at seq 5" in result.stdout and "--full" in result.stdout
    assert "balance" not in result.stdout  # the parts and their sizes, not every entry
    for key, value in parts.items():
        assert key in result.stdout
        if isinstance(value, dict | list):
            assert f"{len(value):,} " in result.stdout


def test_state_at_past_the_end_says_so(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--at", "99"])
    assert result.exit_code == 0 and "state at seq 5" in result.stdout
    assert "the log ends at seq 5; --at 99 is past its end" in result.stderr


def test_state_without_a_fold_in_meta_says_it_uses_the_generic_fold(tmp_path: Path) -> None:
    path = tmp_path / "bare.db"
    with SqliteEventStore(path) as store:
        store.append("trip:1", [ev("TripPlanned")])
    result = runner.invoke(app, ["state", str(path), "--json"])
    assert result.exit_code == 0
    assert "generic fold" in result.stderr
    assert json.loads(result.stdout)["state"]["by_type"] == {"TripPlanned": 1}


def test_state_with_an_unloadable_fold_exits_2(log: Path) -> None:
    with SqliteEventStore(log) as store:
        store.set_meta("fold", "nowhere.to_be_found:FOLD")
    result = runner.invoke(app, ["state", str(log)])
    assert result.exit_code == 2 and "nowhere.to_be_found" in result.stderr


def test_state_saves_and_then_starts_from_a_snapshot(log: Path, tmp_path: Path) -> None:
    snaps = tmp_path / "snaps.db"
    first = runner.invoke(app, ["state", str(log), "--json", "--snapshots", str(snaps), "--save-snapshot"])
    again = runner.invoke(app, ["state", str(log), "--json", "--snapshots", str(snaps)])
    assert first.exit_code == again.exit_code == 0
    assert json.loads(first.stdout) == json.loads(again.stdout)


def test_state_with_a_missing_snapshot_file_exits_2(log: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--snapshots", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no such snapshot file" in result.stderr


def test_state_refuses_both_at_and_at_time(log: Path) -> None:
    result = runner.invoke(app, ["state", str(log), "--at", "1", "--at-time", "2026-01-01"])
    assert result.exit_code == 2


def test_verify_says_intact_and_exits_0(log: Path) -> None:
    result = runner.invoke(app, ["verify", str(log)])
    assert result.exit_code == 0 and "intact (5 events)" in result.stdout


def test_verify_of_a_tampered_log_exits_1_naming_the_seq(log: Path) -> None:
    conn = sqlite3.connect(log)
    with conn:
        conn.execute("UPDATE events SET data = '{\"amount\":1}' WHERE seq = 5")
    conn.close()
    result = runner.invoke(app, ["verify", str(log)])
    assert result.exit_code == 1 and "seq 5" in result.stdout


def test_export_writes_json_lines_that_rebuild_the_chain(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["export", str(log), "--out", str(out)])
    assert result.exit_code == 0
    events = _lines(out.read_text())
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(events))
    assert events[0]["data"] == {"owner": "ana"}


def test_export_to_stdout(log: Path) -> None:
    result = runner.invoke(app, ["export", str(log), "--after", "3"])
    assert result.exit_code == 0 and [e["seq"] for e in _lines(result.stdout)] == [4, 5]


@pytest.mark.parametrize("command", ["summary", "list", "state", "verify", "export"])
def test_a_missing_file_exits_2_with_one_line(command: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [command, str(tmp_path / "missing.db")])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("command", ["summary", "list", "state", "verify", "export"])
def test_a_text_file_exits_2_with_one_line(command: str, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a log\n" * 50)
    result = runner.invoke(app, [command, str(text)])
    assert result.exit_code == 2 and "not an SQLite database" in result.stderr


@pytest.mark.parametrize("args", [["list", "--limit", "-1"], ["list", "--since", "yesterday"],
                                  ["state", "--at", "x"], ["list", "--bogus"]])
def test_bad_option_values_exit_2(log: Path, args: list[str]) -> None:
    result = runner.invoke(app, [args[0], str(log), *args[1:]])
    assert result.exit_code == 2


@pytest.mark.integration
def test_python_dash_m_events_runs_without_a_traceback(log: Path, tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "events", "verify", str(log)], cwd=ROOT,
                        capture_output=True, text=True, timeout=30)
    missing = subprocess.run([sys.executable, "-m", "events", "summary", str(tmp_path / "nope.db")], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert (ok.returncode, ok.stdout.strip()) == (0, "intact (5 events)")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.db'}: no such file"
