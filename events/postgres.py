"""`PostgresEventStore`: the `EventStore` contract in a PostgreSQL database (psycopg 3).

The same rows as the SQLite log — the canonical JSON text, the ISO time text
and both hashes, stored as text so that what is hashed is what is kept — and
the same rules. A writer locks the `events` table in SHARE ROW EXCLUSIVE mode
for its transaction: writers (threads, processes, hosts) queue behind each
other, readers do not wait (MVCC) — the analogue of SQLite's BEGIN IMMEDIATE.

Two connections, each behind its own lock: one writes, one reads, so a read
never waits for a commit's WAL flush. A connection the server dropped (a
restart, a fail-over) is opened again: a read is retried once on the new
one, and so is a write whose first statement met the break (nothing of it
had reached the database); a write that met the break later raises
`LogUnavailable` (its fate is then unknown: read the log — the server's
engine does).

Imported only by `events.location.open_store` and by tools that ask for it:
psycopg stays out of processes whose log is a file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from events.chain import GENESIS_HASH, Progress, Row, VerifyReport, build_rows, format_time, to_event, verify_rows
from events.errors import ConcurrencyError, LogMoved, LogUnavailable, NotAnEventLog
from events.location import redact
from events.model import ANY_VERSION, NewEvent, RecordedEvent, StreamAppend
from events.store import COLUMNS, SCHEMA_VERSION, Synchronous

_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM events"
# COPY, not INSERT: one stream per group whatever its size. Measured on 1,000 rows: COPY 2.4 ms,
# executemany 10.8 ms, one INSERT … SELECT FROM unnest(arrays) 17 ms (the arrays' text is slow to make and parse).
_COPY = "COPY events (" + ", ".join(COLUMNS) + ") FROM STDIN"
# Conflicts with itself and with INSERT/UPDATE/DELETE, not with SELECT: one writer at a time, readers free.
_LOCK = "LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"
_SCHEMA_LOCK = 0x7265636172676131  # advisory lock key ("recarga1"): creators of one schema queue up
# Text columns compared or sorted use the "C" collation: byte order, so ISO times sort as time, whatever
# the database's locale, and comparisons cost a memcmp.
_SCHEMA = (
    """CREATE TABLE events (
         seq BIGINT PRIMARY KEY, stream_id TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL,
         type TEXT COLLATE "C" NOT NULL, recorded_at TEXT COLLATE "C" NOT NULL, data TEXT NOT NULL,
         prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
         CONSTRAINT events_stream_id_version UNIQUE (stream_id, version))""",
    "CREATE INDEX events_type ON events (type)",
    "CREATE INDEX events_recorded_at ON events (recorded_at)",
    'CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT)',
)


class PostgresEventStore:
    """The event log in the `events` and `meta` tables of a PostgreSQL schema (the URL's search_path)."""

    def __init__(self, url: str, *, synchronous: Synchronous = "FULL", create: bool = True,
                 connect_timeout_s: int = 10) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.url = url
        self.location = redact(url)
        self.synchronous = synchronous
        self._timeout = connect_timeout_s
        self._closed = False
        self._lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._read: psycopg.Connection[Any] | None = None
        try:
            self._conn = self._connect()
            self._setup(create)
            self._read = self._connect()
        except BaseException:
            self._close_connections()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            info = self.url  # the URL's own connect_timeout, if it names one, else ours
            if "connect_timeout" not in conninfo_to_dict(info):
                info = make_conninfo(info, connect_timeout=self._timeout)
            conn = psycopg.connect(info, autocommit=True)
        except psycopg.Error as exc:
            raise LogUnavailable(self.location, f"cannot connect ({_why(exc)})") from None
        try:
            # NORMAL: a commit returns before its WAL reaches the disk — a crash may lose the last commits,
            # never half of one (PostgreSQL's synchronous_commit = off, per session).
            conn.execute("SET synchronous_commit = " + ("on" if self.synchronous == "FULL" else "off"))
        except psycopg.Error as exc:
            conn.close()
            raise LogUnavailable(self.location, _why(exc)) from None
        return conn

    def _setup(self, create: bool) -> None:
        with self._errors():
            conn = self._writer()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                schema = conn.execute("SELECT current_schema()").fetchone()
                if schema is None or schema[0] is None:
                    raise NotAnEventLog(self.location, "its search_path names no existing schema")
                tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                                     (schema[0],))}
                if "events" not in tables:
                    if not create:
                        raise NotAnEventLog(self.location, f"no events table in schema {schema[0]!r}")
                    if tables:
                        raise NotAnEventLog(self.location, f"schema {schema[0]!r} holds other tables but no "
                                                           "events table: give an empty database or schema")
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)", (SCHEMA_VERSION,))
                    return
                columns = tuple(r[0] for r in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum > 0"
                    " AND NOT attisdropped ORDER BY attnum"))
                if columns != COLUMNS:
                    raise NotAnEventLog(self.location, f"the events table has unexpected columns {columns}")

    # -- connections and errors -------------------------------------------------------------------

    def _writer(self) -> psycopg.Connection[Any]:
        self._conn = self._live(self._conn)
        return self._conn

    def _reader(self) -> psycopg.Connection[Any]:
        self._read = self._live(self._read)
        return self._read

    def _live(self, conn: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
        if self._closed:
            raise LogUnavailable(self.location, "the event store is closed")
        if conn is None or conn.closed:
            return self._connect()  # the server dropped us (restart, fail-over): a new session
        return conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Every driver failure leaves as LogUnavailable, one line naming the log (password masked)."""
        try:
            yield
        except psycopg.Error as exc:
            raise LogUnavailable(self.location, _why(exc)) from exc

    # -- writing ----------------------------------------------------------------------------------

    def append(self, stream_id: str, events: Sequence[NewEvent],
               expected_version: int = ANY_VERSION) -> list[RecordedEvent]:
        """Append `events` to one stream in one transaction; ConcurrencyError if its version is stale."""
        return self.append_streams([StreamAppend(stream_id, tuple(events), expected_version)])

    def append_streams(self, appends: Sequence[StreamAppend]) -> list[RecordedEvent]:
        """Append to several streams in one transaction: all of it or none of it."""
        if not appends:
            return []
        with self._lock, self._errors():
            conn, last = self._begin("seq, hash, recorded_at")
            try:
                head_seq, head_hash, last_time = last if last else (0, GENESIS_HASH, "")
                # Every stream's version in one round trip, not one per stream (1,000 streams: 1 ms, not 100).
                versions = dict(conn.execute(
                    "SELECT stream_id, MAX(version) FROM events WHERE stream_id = ANY(%s) GROUP BY stream_id",
                    (list({part.stream_id for part in appends}),)).fetchall())
                rows = build_rows(appends, head_seq, head_hash, last_time, lambda s: versions.get(s, 0),
                                  datetime.now(UTC))
                _insert(conn, rows)
                conn.execute("COMMIT")
            except psycopg.errors.UniqueViolation as exc:
                _rollback(conn)
                # Only reachable if a writer skipped the table lock; still a stale version.
                part = appends[0]
                raise ConcurrencyError(part.stream_id, part.expected_version,
                                       self.stream_version(part.stream_id)) from exc
            except BaseException:
                _rollback(conn)
                raise
        when = datetime.fromisoformat(rows[0].recorded_at) if rows else None  # one time per append
        return [to_event(row, when) for row in rows]

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append rows built on this log's head in one transaction; LogMoved (nothing written) if it moved."""
        if not rows:
            return
        with self._lock, self._errors():
            conn, head = self._begin("seq, hash")
            try:
                head_seq, head_hash = head if head else (0, GENESIS_HASH)
                if head_seq != rows[0].seq - 1 or head_hash != rows[0].prev_hash:
                    raise LogMoved(rows[0].seq - 1, head_seq)
                _insert(conn, rows)
                conn.execute("COMMIT")
            except psycopg.errors.UniqueViolation as exc:
                _rollback(conn)
                raise LogMoved(rows[0].seq - 1, self.head()) from exc
            except BaseException:
                _rollback(conn)
                raise

    def _begin(self, columns: str) -> tuple[psycopg.Connection[Any], tuple[Any, ...] | None]:
        """Begin a write: BEGIN, the table lock and the head's `columns` in one round trip (not three).

        A session found dead here is replaced once: nothing of this write had reached the database, so
        starting again is safe. Past this point a broken session leaves the write's fate unknown, and it
        raises.
        """
        query = f"BEGIN; {_LOCK}; SELECT {columns} FROM events ORDER BY seq DESC LIMIT 1"
        for attempt in (1, 2):
            conn = self._writer()
            try:
                cur = conn.execute(query)
            except psycopg.OperationalError:
                if attempt == 2 or not conn.closed:
                    _rollback(conn)
                    raise
                continue
            while cur.nextset():  # to the last statement's result
                pass
            return conn, cur.fetchone()
        raise AssertionError("unreachable")

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the log's `meta` table (e.g. `fold`)."""
        with self._lock, self._errors():
            self._writer().execute("INSERT INTO meta (key, value) VALUES (%s, %s) "
                                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- reading ----------------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock, self._errors():
            try:
                return self._reader().execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if self._read is None or not self._read.closed:
                    raise
                # The server dropped an idle session (restart, fail-over, idle timeout): a read is safe to
                # repeat once on a new one. A write is not, and is never repeated here.
                return self._reader().execute(sql, params).fetchall()

    def last_row(self) -> Row | None:
        """The last stored row, None for an empty log."""
        rows = self._fetch(f"{_SELECT} ORDER BY seq DESC LIMIT 1")
        return Row._make(rows[0]) if rows else None

    def head(self) -> int:
        """The seq of the last event, 0 for an empty log."""
        return int(self._fetch("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event, 0 (NO_STREAM) if it has none."""
        rows = self._fetch("SELECT MAX(version) FROM events WHERE stream_id = %s", (stream_id,))
        return int(rows[0][0] or 0)

    def read_all(self, after: int = 0, limit: int | None = None, *, types: Sequence[str] | None = None,
                 stream_id: str | None = None, until_seq: int | None = None, since: datetime | None = None,
                 until_time: datetime | None = None) -> list[RecordedEvent]:
        """Events with seq > `after`, in seq order, filtered; times are inclusive bounds."""
        where: list[str] = ["seq > %s"]
        params: list[Any] = [after]
        for clause, value in (("seq <= %s", until_seq), ("stream_id = %s", stream_id),
                              ("type = ANY(%s)", None if types is None else list(types)),
                              ("recorded_at >= %s", None if since is None else format_time(since)),
                              ("recorded_at <= %s", None if until_time is None else format_time(until_time))):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return [to_event(row) for row in self._fetch(sql, params)]

    def iter_all(self, after: int = 0, until_seq: int | None = None,
                 batch: int = 10_000) -> Iterator[RecordedEvent]:
        """Stream events with `after` < seq <= `until_seq`, fetching `batch` at a time."""
        for rows in self._row_batches(after, until_seq, batch):
            yield from map(to_event, rows)

    def iter_rows(self, after: int = 0, until_seq: int | None = None, batch: int = 10_000) -> Iterator[Row]:
        """Stream the stored rows (text data, both hashes), for verify and export."""
        for rows in self._row_batches(after, until_seq, batch):
            yield from map(Row._make, rows)

    def _row_batches(self, after: int, until_seq: int | None, batch: int) -> Iterator[list[tuple[Any, ...]]]:
        # Keyset pages, each its own statement: no transaction or lock is held across a `yield`. A page is a
        # seq *range* (seqs are gapless), not "the next N rows": with "seq > x ORDER BY seq LIMIT N" the planner,
        # misled by statistics older than a bulk load, sorted all the rest of the log for every page
        # (50 ms a page at 200,000 events, against 3 ms).
        bound = until_seq if until_seq is not None else 2**63 - 1
        while after < bound:
            high = min(bound, after + batch)
            rows = self._fetch(f"{_SELECT} WHERE seq > %s AND seq <= %s ORDER BY seq", (after, high))
            if rows:
                yield rows
                after = high
                continue
            # An empty range is the end of the log, or a hole (rows deleted behind the log's back): go on
            # from the next row, if any, so that verify() still sees, and names, the hole.
            following = self._fetch("SELECT MIN(seq) FROM events WHERE seq > %s AND seq <= %s", (after, bound))
            if following[0][0] is None:
                return
            after = int(following[0][0]) - 1

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """One stream's events with version > `after_version`, in order."""
        rows = self._fetch(f"{_SELECT} WHERE stream_id = %s AND version > %s ORDER BY version",
                           (stream_id, after_version))
        return [to_event(row) for row in rows]

    def stream_ids(self) -> Iterator[str]:
        """Every stream that has an event, once each."""
        return (row[0] for row in self._fetch("SELECT DISTINCT stream_id FROM events", ()))

    def get_meta(self, key: str) -> str | None:
        """A value of the log's `meta` table, None if unset."""
        rows = self._fetch("SELECT value FROM meta WHERE key = %s", (key,))
        return None if not rows else str(rows[0][0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one SQL query (`%s` placeholders) in a read-only transaction: for summaries and ad-hoc looks."""
        with self._read_lock, self._errors():
            conn = self._reader()
            with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(sql, params)  # type: ignore[arg-type]  # ad-hoc text, by design
                return cur.fetchall()

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Recompute the hash chain and check seqs and stream versions."""
        return verify_rows(self.iter_rows(), self.head(), progress)

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close both connections; the store is unusable afterwards."""
        with self._lock, self._read_lock:
            self._closed = True
            self._close_connections()

    def _close_connections(self) -> None:
        for conn in (self._conn, self._read):
            if conn is not None:
                conn.close()
        self._conn = self._read = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _insert(conn: psycopg.Connection[Any], rows: Sequence[Row]) -> None:
    with conn.cursor() as cur, cur.copy(_COPY) as copy:
        for row in rows:
            copy.write_row(row)


def _rollback(conn: psycopg.Connection[Any]) -> None:
    """End a transaction begun by hand, if the connection is still in one (a broken one is in none)."""
    if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")


def _why(exc: psycopg.Error) -> str:
    """The driver's message on one line (libpq's can span several)."""
    text = " ".join(str(exc).split())
    return text or exc.__class__.__name__
