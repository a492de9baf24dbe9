"""The `EventStore` protocol and its SQLite implementation: one WAL file, one hash chain.

Writers take SQLite's write lock up front (`BEGIN IMMEDIATE`), so the version
check and the insert see the same log whether the other writer is a thread of
this process or another process on the same file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

import orjson

from events.chain import (
    GENESIS_HASH,
    Progress,
    Row,
    VerifyReport,
    build_rows,
    format_time,
    to_event,
    verify_rows,
)
from events.errors import ConcurrencyError, LogMoved, NotAnEventLog
from events.model import ANY_VERSION, NewEvent, RecordedEvent, StreamAppend

SCHEMA_VERSION = "1"
COLUMNS = ("seq", "stream_id", "version", "type", "recorded_at", "data", "prev_hash", "hash")
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM events"
# Every row of a write in one statement, passed as one JSON array: the statement runs in C from start to end.
# (`executemany` steps once per row, and releases and takes back the GIL at each step: beside a busy event
# loop, each take-back can wait a thread switch interval — 50 rows took 55 ms instead of 0.6 ms.)
_INSERT = ("INSERT INTO events (" + ", ".join(COLUMNS) + ") SELECT "
           + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(COLUMNS))) + " FROM json_each(?)")
Synchronous = Literal["FULL", "NORMAL"]


class EventStore(Protocol):
    """An append-only, hash-chained log of events, read by global seq or by stream."""

    def append(self, stream_id: str, events: Sequence[NewEvent],
               expected_version: int = ANY_VERSION) -> list[RecordedEvent]:
        """Append `events` to one stream in one transaction; ConcurrencyError if its version is stale."""
        ...

    def append_streams(self, appends: Sequence[StreamAppend]) -> list[RecordedEvent]:
        """Append to several streams in one transaction: all of it or none of it."""
        ...

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append rows built elsewhere (`events.chain.build_rows` on this log's head) in one transaction.

        LogMoved if the log's head is no longer the one they were built on; nothing is then written.
        """
        ...

    def last_row(self) -> Row | None:
        """The last stored row (its seq, hash and time start the next rows), None for an empty log."""
        ...

    def head(self) -> int:
        """The seq of the last event, 0 for an empty log."""
        ...

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event, 0 (NO_STREAM) if it has none."""
        ...

    def read_all(self, after: int = 0, limit: int | None = None, *, types: Sequence[str] | None = None,
                 stream_id: str | None = None, until_seq: int | None = None, since: datetime | None = None,
                 until_time: datetime | None = None) -> list[RecordedEvent]:
        """Events with seq > `after`, in seq order, filtered; times are inclusive bounds."""
        ...

    def iter_all(self, after: int = 0, until_seq: int | None = None,
                 batch: int = 10_000) -> Iterator[RecordedEvent]:
        """Stream events with `after` < seq <= `until_seq`, fetching `batch` at a time."""
        ...

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """One stream's events with version > `after_version`, in order."""
        ...

    def stream_ids(self) -> Iterator[str]:
        """Every stream that has an event, once each (in no set order)."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A value of the log's `meta` table, None if unset."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the log's `meta` table (e.g. `fold`)."""
        ...

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Recompute the hash chain and check seqs and stream versions."""
        ...

    def close(self) -> None:
        """Release the store's resources."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class SqliteEventStore:
    """The event log in one SQLite file (WAL), safe from several threads and processes."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: Synchronous = "FULL",
                 create: bool = True, busy_timeout_ms: int = 30_000) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self.location = str(self.path)  # what messages name (a PostgreSQL store's is its URL, password masked)
        fresh = _check_path(self.path, create)
        # Two connections, each for any thread and serialised by its own lock: writes on `_conn`, reads
        # on `_read`, so a reader never waits for a writer's fsync (WAL lets both run at once). Autocommit
        # mode (isolation_level=None) so that BEGIN IMMEDIATE / COMMIT are ours alone.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._read: sqlite3.Connection | None = None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._setup(fresh, synchronous)
            self._read = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._read.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._read.execute(f"PRAGMA synchronous = {synchronous}")  # per connection: say the same on both
        except sqlite3.DatabaseError as exc:
            self._close_connections()
            raise NotAnEventLog(str(self.path), f"not an SQLite database ({exc})") from None
        except NotAnEventLog:
            self._close_connections()
            raise
        self._read_lock = threading.RLock()

    def _setup(self, fresh: bool, synchronous: str) -> None:
        conn = self._conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "events" not in tables:
            if tables or not fresh:
                raise NotAnEventLog(str(self.path), "an SQLite database without an events table")
            _create_schema(conn)
        else:
            columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(events)"))
            if columns != COLUMNS:
                raise NotAnEventLog(str(self.path), f"the events table has unexpected columns {columns}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")

    # -- writing ---------------------------------------------------------------

    def append(self, stream_id: str, events: Sequence[NewEvent],
               expected_version: int = ANY_VERSION) -> list[RecordedEvent]:
        """Append `events` to one stream in one transaction; ConcurrencyError if its version is stale."""
        return self.append_streams([StreamAppend(stream_id, tuple(events), expected_version)])

    def append_streams(self, appends: Sequence[StreamAppend]) -> list[RecordedEvent]:
        """Append to several streams in one transaction: all of it or none of it."""
        if not appends:
            return []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute(
                    "SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                head_seq, head_hash, last_time = last if last else (0, GENESIS_HASH, "")
                rows = build_rows(appends, head_seq, head_hash, last_time, self._version_locked,
                                  datetime.now(UTC))
                conn.execute(_INSERT, (_as_json(rows),))
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                # Only reachable if another writer slipped past BEGIN IMMEDIATE; still a stale version.
                part = appends[0]
                raise ConcurrencyError(part.stream_id, part.expected_version,
                                       self.stream_version(part.stream_id)) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        when = datetime.fromisoformat(rows[0].recorded_at) if rows else None  # one time per append
        return [to_event(row, when) for row in rows]

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append rows built on this log's head in one transaction; LogMoved (nothing written) if it moved."""
        if not rows:
            return
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                head_seq, head_hash = last if last else (0, GENESIS_HASH)
                if head_seq != rows[0].seq - 1 or head_hash != rows[0].prev_hash:
                    raise LogMoved(rows[0].seq - 1, head_seq)
                conn.execute(_INSERT, (_as_json(rows),))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def last_row(self) -> Row | None:
        """The last stored row, None for an empty log."""
        with self._read_lock:
            row = self._reader().execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else Row._make(row)

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the log's `meta` table (e.g. `fold`)."""
        with self._lock:
            self._conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- reading ---------------------------------------------------------------

    def head(self) -> int:
        """The seq of the last event, 0 for an empty log."""
        with self._read_lock:
            return int(self._reader().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event, 0 (NO_STREAM) if it has none."""
        with self._read_lock:
            return _stream_version(self._reader(), stream_id)

    def _version_locked(self, stream_id: str) -> int:
        return _stream_version(self._conn, stream_id)

    def _reader(self) -> sqlite3.Connection:
        if self._read is None:
            raise sqlite3.ProgrammingError("the event store is closed")
        return self._read

    def read_all(self, after: int = 0, limit: int | None = None, *, types: Sequence[str] | None = None,
                 stream_id: str | None = None, until_seq: int | None = None, since: datetime | None = None,
                 until_time: datetime | None = None) -> list[RecordedEvent]:
        """Events with seq > `after`, in seq order, filtered; times are inclusive bounds."""
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after]
        if until_seq is not None:
            where.append("seq <= ?")
            params.append(until_seq)
        if stream_id is not None:
            where.append("stream_id = ?")
            params.append(stream_id)
        if types is not None:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            params.extend(types)
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(format_time(since))
        if until_time is not None:
            where.append("recorded_at <= ?")
            params.append(format_time(until_time))
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read_lock:
            rows = self._reader().execute(sql, params).fetchall()
        return [to_event(row) for row in rows]

    def iter_all(self, after: int = 0, until_seq: int | None = None,
                 batch: int = 10_000) -> Iterator[RecordedEvent]:
        """Stream events with `after` < seq <= `until_seq`, fetching `batch` at a time."""
        for rows in self._row_batches(after, until_seq, batch):
            yield from map(to_event, rows)

    def iter_rows(self, after: int = 0, until_seq: int | None = None, batch: int = 10_000) -> Iterator[Row]:
        """Stream the stored rows (text data, both hashes), for verify and export."""
        for rows in self._row_batches(after, until_seq, batch):
            yield from map(Row._make, rows)

    def _row_batches(self, after: int, until_seq: int | None, batch: int) -> Iterator[list[Any]]:
        # Keyset pages: the lock is held per page, never across a `yield`, so a slow
        # consumer (or an abandoned generator) never blocks writers.
        bound = until_seq if until_seq is not None else 2**63 - 1
        while True:
            with self._read_lock:
                rows = self._reader().execute(f"{_SELECT} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                              (after, bound, batch)).fetchall()
            if not rows:
                return
            yield rows
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """One stream's events with version > `after_version`, in order."""
        with self._read_lock:
            rows = self._reader().execute(f"{_SELECT} WHERE stream_id = ? AND version > ? ORDER BY version",
                                          (stream_id, after_version)).fetchall()
        return [to_event(row) for row in rows]

    def stream_ids(self) -> Iterator[str]:
        """Every stream that has an event, once each (read through the stream index, not the events)."""
        with self._read_lock:
            rows = self._reader().execute("SELECT DISTINCT stream_id FROM events").fetchall()
        return (row[0] for row in rows)

    def get_meta(self, key: str) -> str | None:
        """A value of the log's `meta` table, None if unset."""
        with self._read_lock:
            row = self._reader().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only SQL query against the log (summaries, ad-hoc looks), through sqlite-utils.

        Imported here, by the tools that ask: a server never needs it (it drags pandas in).
        """
        import sqlite_utils

        with self._read_lock:
            return list(sqlite_utils.Database(self._reader()).query(sql, params))

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Recompute the hash chain and check seqs and stream versions."""
        # A row deleted at the very end of the log cannot be told from a shorter log;
        # compare `head()` and the last hash with a copy kept elsewhere to catch that.
        return verify_rows(self.iter_rows(), self.head(), progress)

    # -- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        """Close the connections; the store is unusable afterwards."""
        with self._lock, self._read_lock:
            self._close_connections()

    def _close_connections(self) -> None:
        self._conn.close()
        if self._read is not None:
            self._read.close()
            self._read = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _as_json(rows: Sequence[Row]) -> bytes:
    """Rows as the JSON array `_INSERT` reads (each column's text comes back exactly: checked by the chain)."""
    return orjson.dumps([tuple(row) for row in rows])


def _stream_version(conn: sqlite3.Connection, stream_id: str) -> int:
    row = conn.execute("SELECT version FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1",
                       (stream_id,)).fetchone()
    return int(row[0]) if row else 0


def _check_path(path: Path, create: bool) -> bool:
    """Whether `path` is to become a new log; NotAnEventLog if it cannot be one."""
    if path.is_dir():
        raise NotAnEventLog(str(path), "is a directory")
    if not path.exists():
        if not create:
            raise NotAnEventLog(str(path), "no such file")
        return True
    if path.stat().st_size == 0:
        return create
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise NotAnEventLog(str(path), "not an SQLite database")
    return False


# The schema as sqlite-utils would create it, written out: importing sqlite-utils pulls in pandas and numpy
# (~85 MiB), which a server must not carry for four CREATE statements.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS "events" ("seq" INTEGER PRIMARY KEY NOT NULL, "stream_id" TEXT NOT NULL,
       "version" INTEGER NOT NULL, "type" TEXT NOT NULL, "recorded_at" TEXT NOT NULL, "data" TEXT NOT NULL,
       "prev_hash" TEXT NOT NULL, "hash" TEXT NOT NULL)""",
    'CREATE UNIQUE INDEX IF NOT EXISTS "idx_events_stream_id_version" ON "events" ("stream_id", "version")',
    'CREATE INDEX IF NOT EXISTS "idx_events_type" ON "events" ("type")',
    'CREATE INDEX IF NOT EXISTS "idx_events_recorded_at" ON "events" ("recorded_at")',
    'CREATE TABLE IF NOT EXISTS "meta" ("key" TEXT PRIMARY KEY, "value" TEXT)',
)


def _create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables in one transaction; safe if another process races to do the same."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                     (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
