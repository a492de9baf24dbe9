"""What only the SQLite store does: files, pragmas, schema, reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from events.errors import ConcurrencyError, NotAnEventLog
from events.model import NO_STREAM
from events.store import SqliteEventStore
from tests.events.helpers import ev


def test_a_reopened_log_keeps_its_events_and_continues_the_chain(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        store.append("s:1", [ev("A"), ev("B")])
    with SqliteEventStore(log_path, create=False) as store:
        store.append("s:1", [ev("C")], 2)
        assert [e.type for e in store.read_all()] == ["A", "B", "C"]
        assert store.verify().ok


def test_the_log_is_in_wal_mode_with_the_chosen_synchronous_level(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
        assert store.query("PRAGMA synchronous")[0]["synchronous"] == 2  # FULL
    with SqliteEventStore(log_path, synchronous="NORMAL") as store:
        assert store.query("PRAGMA synchronous")[0]["synchronous"] == 1


def test_an_unknown_synchronous_level_is_refused(log_path: Path) -> None:
    with pytest.raises(ValueError):
        SqliteEventStore(log_path, synchronous="OFF")  # type: ignore[arg-type]


def test_a_missing_file_without_create_is_not_an_event_log(tmp_path: Path) -> None:
    with pytest.raises(NotAnEventLog, match="no such file"):
        SqliteEventStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_a_text_file_is_not_an_event_log(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database\n" * 10)
    with pytest.raises(NotAnEventLog, match="not an SQLite database"):
        SqliteEventStore(path)
    assert path.read_text().startswith("hello")


def test_an_sqlite_file_without_an_events_table_is_not_an_event_log(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    conn.close()
    with pytest.raises(NotAnEventLog, match="without an events table"):
        SqliteEventStore(path)


def test_a_directory_is_not_an_event_log(tmp_path: Path) -> None:
    with pytest.raises(NotAnEventLog):
        SqliteEventStore(tmp_path)


def test_the_schema_refuses_a_second_event_at_the_same_stream_version(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        store.append("s:1", [ev("A")])
    conn = sqlite3.connect(log_path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO events VALUES (2, 's:1', 1, 'A', '', '{}', '', '')")
    conn.close()


def test_a_unique_version_conflict_surfaces_as_a_concurrency_error(log_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with SqliteEventStore(log_path) as store:
        store.append("s:1", [ev("A")])
        # Pretend the version read missed the event (as a writer bypassing the lock would).
        monkeypatch.setattr(store, "_version_locked", lambda stream_id: 0)
        with pytest.raises(ConcurrencyError):
            store.append("s:1", [ev("B")], NO_STREAM)
        monkeypatch.undo()
        assert store.head() == 1 and store.verify().ok


def test_two_stores_on_one_file_see_each_others_appends(log_path: Path) -> None:
    with SqliteEventStore(log_path) as one, SqliteEventStore(log_path) as two:
        one.append("s:1", [ev("A")])
        two.append("s:1", [ev("B")], 1)
        with pytest.raises(ConcurrencyError):
            one.append("s:1", [ev("C")], 1)
        assert [e.type for e in one.read_all()] == ["A", "B"]


def test_the_schema_has_the_documented_columns_and_indexes(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        columns = [r["name"] for r in store.query("PRAGMA table_info(events)")]
        indexes = {r["name"] for r in store.query("PRAGMA index_list(events)")}
    assert columns == ["seq", "stream_id", "version", "type", "recorded_at", "data", "prev_hash", "hash"]
    assert {"idx_events_stream_id_version", "idx_events_type", "idx_events_recorded_at"} <= indexes


def test_data_is_stored_as_canonical_json_text(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        store.append("s:1", [ev("A", b=1, a="ç")])
        assert store.query("SELECT data FROM events")[0]["data"] == '{"a":"ç","b":1}'
