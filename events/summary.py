"""What a log holds at a glance, from SQL aggregates (no replay), in SQLite's or PostgreSQL's dialect."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from events.store import SqliteEventStore

if TYPE_CHECKING:
    from events.postgres import PostgresEventStore


@dataclass(frozen=True, slots=True)
class PrefixCount:
    """Events and distinct streams under one stream prefix (the part of stream_id before ':')."""

    prefix: str
    events: int
    streams: int


@dataclass(frozen=True, slots=True)
class LogSummary:
    """Counts by stream prefix and by type, time span, head, size and fold of one log."""

    path: str
    head: int
    events: int
    first_time: str | None
    last_time: str | None
    file_bytes: int
    fold: str | None
    by_prefix: list[PrefixCount] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the summary."""
        return {"path": self.path, "head": self.head, "events": self.events, "first_time": self.first_time,
                "last_time": self.last_time, "file_bytes": self.file_bytes, "fold": self.fold,
                "by_prefix": [{"prefix": p.prefix, "events": p.events, "streams": p.streams}
                              for p in self.by_prefix],
                "by_type": self.by_type}


def summarize(store: SqliteEventStore | PostgresEventStore) -> LogSummary:
    """Summarise `store` with a few aggregate queries."""
    totals = store.query("SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS head, MIN(recorded_at) AS first,"
                         " MAX(recorded_at) AS last FROM events")[0]
    if isinstance(store, SqliteEventStore):
        prefix = "substr(stream_id, 1, instr(stream_id || ':', ':') - 1)"
        # The WAL holds recent commits until a checkpoint: it is part of the log's size on disk.
        size = sum(os.path.getsize(p) for p in (store.path, f"{store.path}-wal") if os.path.exists(p))
        where = str(store.path)
    else:
        prefix = "split_part(stream_id, ':', 1)"
        size = int(store.query("SELECT pg_total_relation_size('events') + pg_total_relation_size('meta') AS n"
                               )[0]["n"])  # tables, indexes and TOAST
        where = store.location
    prefixes = store.query(
        f"SELECT {prefix} AS prefix, COUNT(*) AS events, COUNT(DISTINCT stream_id) AS streams FROM events"
        " GROUP BY prefix ORDER BY events DESC, prefix")
    types = store.query("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY n DESC, type")
    return LogSummary(
        path=where, head=totals["head"], events=totals["n"], first_time=totals["first"],
        last_time=totals["last"], file_bytes=size, fold=store.get_meta("fold"),
        by_prefix=[PrefixCount(r["prefix"], r["events"], r["streams"]) for r in prefixes],
        by_type={r["type"]: r["n"] for r in types})
