"""The one writer of a company's log: decide under a lock, append, fold what was appended."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from events.fold import replay, save_snapshot, snapshot_key
from events.model import NewEvent, RecordedEvent, StreamAppend
from events.snapshots import SnapshotStore
from events.store import EventStore
from servers.domain.errors import Unavailable
from servers.domain.state import FOLD, ServerState

log = logging.getLogger(__name__)
R = TypeVar("R")
SNAPSHOT_EVERY = 10_000  # events folded since the last snapshot before a new one is worth writing
Listener = Callable[[Sequence[RecordedEvent]], None]


def one(stream_id: str, type_: str, data: dict[str, Any]) -> StreamAppend:
    """A single-event append to one stream."""
    return StreamAppend(stream_id, (NewEvent(type_, data),))


class LogUnwritable(Unavailable):
    """The log refused a write (disk full, read-only, I/O error); nothing was changed."""

    code = "LOG_UNWRITABLE"


def utcnow() -> datetime:
    """The network clock: UTC wall time."""
    return datetime.now(UTC)


class Engine:
    """Holds the folded state of one log; every change goes through `execute`.

    One writer per log (this lock) keeps decisions and appends in one order,
    so a decision never reads a state that an append has made stale.
    """

    def __init__(self, store: EventStore, clock: Callable[[], datetime] = utcnow,
                 snapshots: SnapshotStore | None = None, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.store = store
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        if store.get_meta("fold") is None:
            store.set_meta("fold", FOLD.name)
        self.state: ServerState
        latest = snapshots.latest(snapshot_key(FOLD)) if snapshots is not None else None
        self.state, _ = replay(store, FOLD, snapshots=snapshots, progress=_log_progress)
        self._snapshot_seq = latest.seq if latest is not None else 0
        log.info("replayed the log up to seq %d (from a snapshot at %d)", self.state.seq, self._snapshot_seq)
        self.snapshot_if_due()

    def snapshot_if_due(self) -> None:
        """Store the state beside the log (a cache for a fast start) when enough events have been folded."""
        if self.snapshots is None:
            return
        with self._lock:
            if self.state.seq - self._snapshot_seq < self.snapshot_every:
                return
            save_snapshot(self.store, FOLD, self.snapshots, self.state, self.state.seq)
            self._snapshot_seq = self.state.seq
            log.info("snapshot saved at seq %d", self.state.seq)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every batch of events appended from now on (after the lock is released)."""
        self._listeners.append(listener)

    def execute(self, decide: Callable[[ServerState], tuple[Sequence[StreamAppend], R]]) -> R:
        """Run `decide` on the current state; append its events in one transaction; fold them."""
        with self._lock:
            appends, result = decide(self.state)
            recorded: list[RecordedEvent] = []
            if appends:
                try:
                    recorded = self.store.append_streams(appends)
                except (sqlite3.Error, OSError) as exc:
                    # Disk full, read-only, I/O error: the append rolled back, so refuse and change nothing.
                    log.error("the event log refused an append: %s", exc)
                    raise LogUnwritable(f"the event log cannot be written ({exc}); try again later") from exc
                for event in recorded:
                    FOLD.evolve(self.state, event)
        if recorded:
            for listener in self._listeners:
                try:
                    listener(recorded)
                except Exception:  # a broken listener (e.g. MQTT down) must not undo a committed decision
                    log.exception("event listener failed")
        return result

    def first(self, stream_id: str) -> RecordedEvent | None:
        """The first event of a stream (what the state forgot, or never kept, is read back from the log)."""
        events = self.store.read_stream(stream_id)
        return events[0] if events else None

    def read(self, query: Callable[[ServerState], R]) -> R:
        """Run a read-only query against a consistent state."""
        with self._lock:
            return query(self.state)


def _log_progress(done: int, target: int) -> None:
    log.info("replaying: %d / %d events", done, target)
