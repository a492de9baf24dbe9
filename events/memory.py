"""`InMemoryEventStore`: the `EventStore` contract without a file, for tests and tools."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

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
from events.errors import LogMoved
from events.model import ANY_VERSION, NewEvent, RecordedEvent, StreamAppend


class InMemoryEventStore:
    """The same rows, hashes and rules as `SqliteEventStore`, kept in a list.

    `clock` stamps `recorded_at` (wall time unless a test moves time by hand).
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._rows: list[Row] = []  # index i holds seq i + 1
        self._streams: dict[str, list[int]] = {}  # stream id -> its seqs, in version order
        self._meta: dict[str, str] = {"schema_version": "1"}
        self._lock = threading.RLock()

    def append(self, stream_id: str, events: Sequence[NewEvent],
               expected_version: int = ANY_VERSION) -> list[RecordedEvent]:
        """Append `events` to one stream atomically; ConcurrencyError if its version is stale."""
        return self.append_streams([StreamAppend(stream_id, tuple(events), expected_version)])

    def append_streams(self, appends: Sequence[StreamAppend]) -> list[RecordedEvent]:
        """Append to several streams atomically: all of it or none of it."""
        with self._lock:
            last = self._rows[-1] if self._rows else None
            rows = build_rows(appends, len(self._rows), last.hash if last else GENESIS_HASH,
                              last.recorded_at if last else "", self.stream_version, self._clock())
            # build_rows raised before this point if any version was stale: nothing half-written.
            for row in rows:
                self._rows.append(row)
                self._streams.setdefault(row.stream_id, []).append(row.seq)
        when = datetime.fromisoformat(rows[0].recorded_at) if rows else None  # one time per append
        return [to_event(row, when) for row in rows]

    def write_rows(self, rows: Sequence[Row]) -> None:
        """Append rows built on this log's head; LogMoved (nothing written) if the head moved."""
        if not rows:
            return
        with self._lock:
            last = self._rows[-1] if self._rows else None
            head_seq, head_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
            if head_seq != rows[0].seq - 1 or head_hash != rows[0].prev_hash:
                raise LogMoved(rows[0].seq - 1, head_seq)
            for row in rows:
                self._rows.append(row)
                self._streams.setdefault(row.stream_id, []).append(row.seq)

    def last_row(self) -> Row | None:
        """The last stored row, None for an empty log."""
        with self._lock:
            return self._rows[-1] if self._rows else None

    def head(self) -> int:
        """The seq of the last event, 0 for an empty log."""
        return len(self._rows)

    def stream_version(self, stream_id: str) -> int:
        """The version of the stream's last event, 0 (NO_STREAM) if it has none."""
        return len(self._streams.get(stream_id, ()))

    def read_all(self, after: int = 0, limit: int | None = None, *, types: Sequence[str] | None = None,
                 stream_id: str | None = None, until_seq: int | None = None, since: datetime | None = None,
                 until_time: datetime | None = None) -> list[RecordedEvent]:
        """Events with seq > `after`, in seq order, filtered; times are inclusive bounds."""
        low, high = format_time(since) if since else "", format_time(until_time) if until_time else None
        wanted = set(types) if types is not None else None
        out: list[RecordedEvent] = []
        with self._lock:
            rows = self._rows[max(after, 0):until_seq]
        for row in rows:
            if limit is not None and len(out) >= limit:
                break
            if (stream_id is not None and row.stream_id != stream_id) or (
                    wanted is not None and row.type not in wanted) or row.recorded_at < low or (
                    high is not None and row.recorded_at > high):
                continue
            out.append(to_event(row))
        return out

    def iter_all(self, after: int = 0, until_seq: int | None = None,
                 batch: int = 10_000) -> Iterator[RecordedEvent]:
        """Stream events with `after` < seq <= `until_seq`."""
        return map(to_event, self.iter_rows(after, until_seq, batch))

    def iter_rows(self, after: int = 0, until_seq: int | None = None, batch: int = 10_000) -> Iterator[Row]:
        """Stream the stored rows (text data, both hashes)."""
        with self._lock:
            rows = self._rows[max(after, 0):until_seq]
        return iter(rows)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        """One stream's events with version > `after_version`, in order."""
        with self._lock:
            seqs = self._streams.get(stream_id, [])[max(after_version, 0):]
            return [to_event(self._rows[seq - 1]) for seq in seqs]

    def stream_ids(self) -> Iterator[str]:
        """Every stream that has an event, once each."""
        with self._lock:
            return iter(list(self._streams))

    def get_meta(self, key: str) -> str | None:
        """A meta value, None if unset."""
        return self._meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value (e.g. `fold`)."""
        self._meta[key] = value

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Recompute the hash chain and check seqs and stream versions."""
        return verify_rows(self.iter_rows(), self.head(), progress)

    def close(self) -> None:
        """Nothing to release; present for the protocol."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
