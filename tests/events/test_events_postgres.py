"""What only a log in PostgreSQL can get wrong: locations, several writers on one database, lost sessions, tampering."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from events.chain import Row, build_rows
from events.errors import BadLogLocation, LogMoved, LogUnavailable, NotAnEventLog
from events.location import open_store, parse_location, redact
from events.model import StreamAppend
from events.postgres import PostgresEventStore
from mosquitto import free_port
from tests.events.helpers import ROOT, ev
from tests.postgres import PostgresCluster


def test_a_location_is_a_file_a_sqlite_url_or_a_postgresql_url() -> None:
    assert parse_location("run/data/voltpoint.db").kind == "sqlite"
    assert parse_location("sqlite:///var/lib/recarga/a.db").target == "/var/lib/recarga/a.db"
    assert parse_location("postgresql://u@h:5432/db").kind == "postgresql"
    assert parse_location("postgres://u@h/db").kind == "postgresql"
    for bad in ("mysql://u@h/db", "", "sqlite://"):
        with pytest.raises(BadLogLocation):
            parse_location(bad)


def test_a_password_in_a_url_is_masked_wherever_the_location_is_printed() -> None:
    assert redact("postgresql://ana:s3cret@db:5432/log") == "postgresql://ana:***@db:5432/log"
    assert "s3cret" not in redact("postgresql://db/log?user=ana&password=s3cret")
    assert str(parse_location("postgresql://ana:s3cret@db/log")) == "postgresql://ana:***@db/log"
    with pytest.raises(BadLogLocation) as caught:
        parse_location("mysql://ana:s3cret@db/log")
    assert "s3cret" not in str(caught.value)


def test_an_unreachable_server_is_one_typed_error_without_the_password() -> None:
    with pytest.raises(LogUnavailable) as caught:
        open_store(f"postgresql://ana:s3cret@127.0.0.1:{free_port()}/log?connect_timeout=2")
    assert "cannot connect" in str(caught.value) and "s3cret" not in str(caught.value)


def test_create_false_on_an_empty_schema_is_not_an_event_log(postgres: PostgresCluster) -> None:
    with pytest.raises(NotAnEventLog, match="no events table"):
        open_store(postgres.fresh_schema(), create=False)


def test_a_schema_holding_other_tables_is_not_taken_over(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    schema = url.rsplit("%3D", 1)[1]
    postgres.sql(f"CREATE TABLE {schema}.invoices (id int)")
    with pytest.raises(NotAnEventLog, match="other tables"):
        open_store(url)


def test_an_events_table_of_another_shape_is_refused(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    schema = url.rsplit("%3D", 1)[1]
    postgres.sql(f"CREATE TABLE {schema}.events (id int, body text)")
    with pytest.raises(NotAnEventLog, match="unexpected columns"):
        open_store(url, create=False)


def _race(stores: tuple[PostgresEventStore, PostgresEventStore], groups: list[list[Row]]) -> list[str]:
    """Write one group through each store at the same moment; what each got."""
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def write(store: PostgresEventStore, rows: list[Row]) -> None:
        barrier.wait()
        try:
            store.write_rows(rows)
            outcomes.append("won")
        except LogMoved:
            outcomes.append("moved")

    threads = [threading.Thread(target=write, args=pair) for pair in zip(stores, groups, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_two_writers_on_one_database_with_rows_on_one_head_exactly_one_wins(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    with PostgresEventStore(url) as one, PostgresEventStore(url) as two:
        one.append("s:0", [ev("Opened")])
        for r in range(10):
            last = one.last_row()
            assert last is not None
            groups = [build_rows([StreamAppend(f"s:{r}:{name}", (ev("Claimed"),))], last.seq, last.hash,
                                 last.recorded_at, lambda _: 0, datetime.now(UTC)) for name in ("a", "b")]
            assert sorted(_race((one, two), groups)) == ["moved", "won"], r
        assert one.head() == 11 and two.verify().ok


def test_dropped_sessions_are_reopened_for_reads_and_for_writes_not_yet_begun(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()

    def cut() -> int:
        return len(postgres.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"))

    with PostgresEventStore(url) as store:
        store.append("s:1", [ev("A")])
        assert cut() >= 2  # the store's reader and writer
        assert store.head() == 1  # the read met the break and was repeated on a new session
        store.append("s:1", [ev("B")])  # the break met at BEGIN: nothing had been sent, so begun again
        cut()
        last = store.last_row()
        assert last is not None
        store.write_rows(build_rows([StreamAppend("s:1", (ev("C"),))], last.seq, last.hash, last.recorded_at,
                                    lambda _: 2, datetime.now(UTC)))  # the engine's path: the same
        assert [e.type for e in store.read_stream("s:1")] == ["A", "B", "C"] and store.verify().ok


def test_a_database_that_refuses_sessions_is_log_unavailable_until_it_is_back(postgres: PostgresCluster) -> None:
    url = postgres.fresh_database()
    database = url.rsplit("/", 1)[1]
    with PostgresEventStore(url) as store:
        store.append("s:1", [ev("A")])
        postgres.sql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
        postgres.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
        with pytest.raises(LogUnavailable, match="not currently accepting connections"):
            store.head()
        with pytest.raises(LogUnavailable):
            store.append("s:1", [ev("B")])
        postgres.sql(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        store.append("s:1", [ev("C")])
        assert [e.type for e in store.read_all()] == ["A", "C"] and store.verify().ok


def test_an_edited_row_is_reported_by_verify(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    schema = url.rsplit("%3D", 1)[1]
    with PostgresEventStore(url) as store:
        for i in range(5):
            store.append("account:1", [ev("Credited", amount=i)])
        postgres.sql(f"UPDATE {schema}.events SET data = '{{\"amount\":1000}}' WHERE seq = 3")
        report = store.verify()
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
    assert "hash" in report.reason


def test_pages_step_over_deleted_rows_so_verify_names_the_hole(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    schema = url.rsplit("%3D", 1)[1]
    with PostgresEventStore(url) as store:
        for i in range(10):
            store.append(f"s:{i}", [ev("A")])
        postgres.sql(f"DELETE FROM {schema}.events WHERE seq IN (4, 5, 6)")
        assert [e.seq for e in store.iter_all(batch=2)] == [1, 2, 3, 7, 8, 9, 10]
        assert [e.seq for e in store.iter_all(after=3, until_seq=8, batch=2)] == [7, 8]
        report = store.verify()
    assert (report.ok, report.first_bad_seq) == (False, 4) and "missing" in report.reason


@pytest.mark.parametrize("synchronous,setting", [("FULL", "on"), ("NORMAL", "off")])
def test_synchronous_maps_to_synchronous_commit(postgres: PostgresCluster, synchronous, setting) -> None:
    with PostgresEventStore(postgres.fresh_schema(), synchronous=synchronous) as store:
        assert store.query("SHOW synchronous_commit") == [{"synchronous_commit": setting}]


def test_the_replay_cli_reads_a_log_in_postgresql(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    with open_store(url) as store:
        store.append_streams([StreamAppend("trip:1", (ev("TripDecided"),)),
                              StreamAppend("account:1", (ev("Debited"),))])

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "events", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)

    verified = cli("verify", url)
    assert (verified.returncode, verified.stdout.strip()) == (0, "intact (2 events)")
    summary = cli("summary", url, "--json")
    assert summary.returncode == 0, summary.stderr
    assert '"by_type": {"Debited": 1, "TripDecided": 1}' in summary.stdout
    assert '{"prefix": "account", "events": 1, "streams": 1}' in summary.stdout
    missing = cli("verify", postgres.fresh_schema())
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "no events table" in missing.stderr
