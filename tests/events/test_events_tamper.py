"""verify() finds rows changed behind the log's back, and names the first bad seq."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from events.chain import Row, event_hash
from events.errors import LogTampered
from events.memory import InMemoryEventStore
from events.store import SqliteEventStore
from tests.events.helpers import ev


@pytest.fixture
def log20(log_path: Path) -> Path:
    with SqliteEventStore(log_path) as store:
        for i in range(20):
            store.append(f"account:{i % 3}", [ev("Credited", amount=i)])
    return log_path


def _sql(path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def _verify(path: Path) -> tuple[bool, int | None, str]:
    with SqliteEventStore(path, create=False) as store:
        report = store.verify()
    return report.ok, report.first_bad_seq, report.reason


@pytest.mark.parametrize("k", [1, 7, 20])
def test_edited_data_is_reported_at_exactly_its_seq(log20: Path, k: int) -> None:
    _sql(log20, "UPDATE events SET data = ? WHERE seq = ?", ('{"amount":1000000}', k))
    assert _verify(log20)[:2] == (False, k)


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(log20: Path) -> None:
    conn = sqlite3.connect(log20)
    row = Row(*conn.execute("SELECT * FROM events WHERE seq = 5").fetchone())
    forged = event_hash(row.prev_hash, row.seq, row.stream_id, row.version, row.type, row.recorded_at,
                        '{"amount":999}')
    with conn:
        conn.execute("UPDATE events SET data = '{\"amount\":999}', hash = ? WHERE seq = 5", (forged,))
    conn.close()
    ok, bad, reason = _verify(log20)
    assert (ok, bad) == (False, 6) and "prev_hash" in reason


def test_a_deleted_row_is_reported_as_missing(log20: Path) -> None:
    _sql(log20, "DELETE FROM events WHERE seq = 9")
    ok, bad, reason = _verify(log20)
    assert (ok, bad) == (False, 9) and "missing" in reason


def test_swapped_rows_are_detected_at_the_first_of_them(log20: Path) -> None:
    conn = sqlite3.connect(log20)
    with conn:
        a = conn.execute("SELECT stream_id, version, type, recorded_at, data, prev_hash, hash "
                         "FROM events WHERE seq = 11").fetchone()
        b = conn.execute("SELECT stream_id, version, type, recorded_at, data, prev_hash, hash "
                         "FROM events WHERE seq = 12").fetchone()
        conn.execute("DELETE FROM events WHERE seq IN (11, 12)")
        conn.execute("INSERT INTO events VALUES (11, ?, ?, ?, ?, ?, ?, ?)", b)
        conn.execute("INSERT INTO events VALUES (12, ?, ?, ?, ?, ?, ?, ?)", a)
    conn.close()
    assert _verify(log20)[:2] == (False, 11)


def test_a_changed_type_or_version_is_detected(log20: Path) -> None:
    _sql(log20, "UPDATE events SET type = 'Debited' WHERE seq = 3")
    assert _verify(log20)[:2] == (False, 3)


def test_raise_if_tampered_names_the_seq(log20: Path) -> None:
    _sql(log20, "UPDATE events SET stream_id = 'account:9' WHERE seq = 4")
    with SqliteEventStore(log20) as store:
        report = store.verify()
    with pytest.raises(LogTampered) as caught:
        report.raise_if_tampered()
    assert caught.value.seq == 4


def test_the_in_memory_store_detects_an_edited_row_too() -> None:
    store = InMemoryEventStore()
    for i in range(5):
        store.append("s:1", [ev("A", i=i)])
    store._rows[2] = store._rows[2]._replace(data='{"i":99}')
    report = store.verify()
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
