"""`SnapshotStore`: folded states saved in their own SQLite file, never beside the log.

A snapshot names the fold that made it and the hash of the log's event at its
seq; `replay` uses it only if that event still has that hash.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from events.chain import format_time


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A fold's state (JSON text) as of event `seq`, whose hash was `head_hash`."""

    seq: int
    head_hash: str
    fold_name: str
    state_json: str
    saved_at: str


class SnapshotStore:
    """Snapshots in one SQLite file (`:memory:` for tests)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA busy_timeout = 30000")
        # Written out rather than through sqlite-utils, whose import pulls pandas into the server.
        self._conn.execute('CREATE TABLE IF NOT EXISTS "snapshots" ("fold_name" TEXT, "seq" INTEGER, '
                           '"head_hash" TEXT, "state_json" TEXT, "saved_at" TEXT, PRIMARY KEY ("fold_name", "seq"))')

    def save(self, seq: int, head_hash: str, fold_name: str, state_json: str) -> Snapshot:
        """Store (or replace) the snapshot of `fold_name` at `seq`."""
        snap = Snapshot(seq, head_hash, fold_name, state_json, format_time(datetime.now(UTC)))
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO snapshots (fold_name, seq, head_hash, state_json, saved_at)"
                " VALUES (?, ?, ?, ?, ?)", (fold_name, seq, head_hash, state_json, snap.saved_at))
        return snap

    def candidates(self, fold_name: str, at_or_before_seq: int | None = None) -> Iterator[Snapshot]:
        """Snapshots of `fold_name` with seq <= `at_or_before_seq`, newest first."""
        bound = at_or_before_seq if at_or_before_seq is not None else 2**63 - 1
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, head_hash, fold_name, state_json, saved_at FROM snapshots"
                " WHERE fold_name = ? AND seq <= ? ORDER BY seq DESC", (fold_name, bound)).fetchall()
        return (Snapshot(*row) for row in rows)

    def latest(self, fold_name: str, at_or_before_seq: int | None = None) -> Snapshot | None:
        """The newest snapshot of `fold_name` with seq <= `at_or_before_seq`, if any."""
        return next(self.candidates(fold_name, at_or_before_seq), None)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
