"""The one writer of a company's log: decide, stage and fold at once; make durable in groups.

Every decision runs on one thread — the server's event loop — against the
folded state, so decisions never interleave and need no lock. `execute` runs
a decision, builds its events' rows (seq, version, hash) on the log's head and
folds them into the state at once, so the next decision already sees them.
The rows are *staged*: a writer thread appends everything staged since its
last write in one transaction — one fsync for all the decisions that arrived
meanwhile (group commit). `durable()` waits until what is staged so far is on
disk. The rule that keeps this safe: **nothing leaves the process before it is
durable** — an edge awaits `durable()` before it answers, and phase two awaits
it before telling a participant (docs/booking.md, "Group commit").

A write starts when somebody awaits `durable()`; rows nobody waits for yet
(a trip's request, an acknowledgement) linger up to `LINGER_S` for one that
does, so they share its transaction and its fsync — by the rule above, rows
nobody waits for have told nobody anything.

If a write fails (disk full, read-only), everything staged after the last
durable event is dropped: the state is rebuilt from the log, and every waiter
gets `LogUnwritable`. Without a running event loop (tools, synchronous tests)
rows are written at once, inside `execute`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from events.chain import GENESIS_HASH, Row, build_rows, to_event
from events.errors import EventLogError, LogUnavailable
from events.fold import replay, save_snapshot, snapshot_key
from events.model import RecordedEvent, StreamAppend
from events.snapshots import SnapshotStore
from events.store import EventStore
from events.streamfilter import StreamFilter
from servers.bookings.errors import Unavailable
from servers.bookings.state import FOLD, ServerState

log = logging.getLogger(__name__)
R = TypeVar("R")
SNAPSHOT_EVERY = 10_000  # events folded since the last snapshot before a new one is worth writing
VERSION_CACHE = 100_000  # stream versions remembered before the cache is emptied (when nothing is staged)
# How long staged rows nobody awaits may wait to join a write somebody awaits (and the listeners' delay for them).
LINGER_S = 0.02
Listener = Callable[[Sequence[RecordedEvent]], None]


class LogUnwritable(Unavailable):
    """The log refused a write (disk full, read-only, I/O error); nothing was changed."""

    code = "LOG_UNWRITABLE"


class LogUnreachable(Unavailable):
    """The log's database cannot be reached: what a failed write did is unknown until it can be read again."""

    code = "LOG_UNAVAILABLE"


def _unreachable(exc: LogUnavailable) -> LogUnreachable:
    return LogUnreachable(f"the event log cannot be reached ({exc}); try again later")


def utcnow() -> datetime:
    """The network clock: UTC wall time."""
    return datetime.now(UTC)


class Engine:
    """Holds the folded state of one log; every change goes through `execute`, on one thread."""

    def __init__(self, store: EventStore, clock: Callable[[], datetime] = utcnow,
                 snapshots: SnapshotStore | None = None, snapshot_every: int = SNAPSHOT_EVERY, *,
                 background: bool = True) -> None:
        self.store = store
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.clock = clock
        self.background = background  # write from a writer thread when a loop runs (else inline)
        self._listeners: list[Listener] = []
        if store.get_meta("fold") is None:
            store.set_meta("fold", FOLD.name)
        self.state: ServerState
        self._stale = False  # a failed write could not read the log back: the state may hold what it lost
        self._load()
        latest = snapshots.latest(snapshot_key(FOLD)) if snapshots is not None else None
        self._snapshot_seq = latest.seq if latest is not None else 0
        log.info("replayed the log up to seq %d (from a snapshot at %d)", self.state.seq, self._snapshot_seq)
        self._writer: _Writer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick_scheduled = False  # a kick runs after this turn of the loop
        self._linger: asyncio.TimerHandle | None = None  # a kick runs when staged rows have waited long enough
        self.snapshot_if_due()

    def _load(self) -> None:
        """State and head from the log as it is on disk (at start, and after a failed write)."""
        self.state, _ = replay(self.store, FOLD, snapshots=self.snapshots, progress=_log_progress)
        last = self.store.last_row()
        self._head = (last.seq, last.hash, last.recorded_at) if last else (0, GENESIS_HASH, "")
        self._durable_seq = self._head[0]
        # The streams the log may hold: a question about one it certainly does not is answered without a read.
        # (Built at start: ~0.7 s and 0.9 MiB for a log of 1M events in 333k streams.)
        ids = list(self.store.stream_ids())
        self._streams = StreamFilter(ids, expected=len(ids))
        self._versions: dict[str, int] = {}  # streams' versions, staged ones included
        self._firsts: dict[str, RecordedEvent] = {}  # first events of streams that exist only in staging
        self._staged: list[Row] = []  # built and folded, not yet handed to the writer
        self._staged_events: list[RecordedEvent] = []
        self._writing: list[Row] = []  # handed to the writer, not yet durable
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    # -- deciding -----------------------------------------------------------------------------------
    def execute(self, decide: Callable[[ServerState], tuple[Sequence[StreamAppend], R]]) -> R:
        """Run `decide` on the current state, stage its events and fold them; its result at once.

        Durable only after `await durable()` (at once when no event loop runs).
        """
        self._fresh()
        appends, result = decide(self.state)
        if appends:
            self._stage(appends)
        return result

    def read(self, query: Callable[[ServerState], R]) -> R:
        """Run a read-only query against the state (staged events included)."""
        self._fresh()
        return query(self.state)

    def first(self, stream_id: str) -> RecordedEvent | None:
        """The first event of a stream (what the state forgot, or never kept, is read back from the log)."""
        self._fresh()
        staged = self._firsts.get(stream_id)
        if staged is not None:
            return staged
        if not self._versions.get(stream_id, 1):
            return None
        if stream_id not in self._streams:  # (a new request id, a trip not seen here before)
            self._versions[stream_id] = 0
            return None
        events = self.store.read_stream(stream_id)
        if stream_id not in self._versions:  # what was read tells the version too: an append needs no other read
            self._versions[stream_id] = events[-1].version if events else 0
        return events[0] if events else None

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every batch of events once it is durable (on the deciding thread)."""
        self._listeners.append(listener)

    def _version(self, stream_id: str) -> int:
        version = self._versions.get(stream_id)
        if version is None:
            version = self.store.stream_version(stream_id) if stream_id in self._streams else 0
            self._versions[stream_id] = version
        return version

    def _stage(self, appends: Sequence[StreamAppend]) -> None:
        seq, prev, last_time = self._head
        rows = build_rows(appends, seq, prev, last_time, self._version, self.clock())
        when = datetime.fromisoformat(rows[0].recorded_at)
        events = [to_event(row, when) for row in rows]
        for row, event in zip(rows, events, strict=True):
            self._versions[row.stream_id] = row.version
            if row.version == 1:
                self._firsts[row.stream_id] = event
                self._streams.add(row.stream_id)
            FOLD.evolve(self.state, event)
        self._head = (rows[-1].seq, rows[-1].hash, rows[-1].recorded_at)
        self._staged.extend(rows)
        self._staged_events.extend(events)
        loop = self._running_loop()
        if loop is None:
            self._write_inline()
        else:
            self._kick_later(loop)

    def _running_loop(self) -> asyncio.AbstractEventLoop | None:
        if not self.background:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is not None:  # decisions run on one thread, or two could read one state
                raise RuntimeError("the engine was used off its event loop") from None
            return None
        if self._loop is not None and loop is not self._loop:
            raise RuntimeError("the engine was used from a second event loop")
        self._loop = loop
        return loop

    # -- writing ------------------------------------------------------------------------------------
    async def durable(self) -> None:
        """Wait until everything staged so far is on disk; LogUnwritable if it never will be."""
        seq = self._head[0]
        if seq <= self._durable_seq:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((seq, future))
        self._kick_soon(loop)
        await future

    def _kick_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write what is staged after this turn of the loop: what else is decided in it joins the group."""
        if not self._kick_scheduled:  # (the kick cancels a lingering one)
            self._kick_scheduled = True
            loop.call_soon(self._kick)

    def _kick_later(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write what is staged within `LINGER_S`, unless somebody's wait writes it sooner."""
        if not self._kick_scheduled and self._linger is None:
            self._linger = loop.call_later(LINGER_S, self._kick)

    def _write_inline(self) -> None:
        rows, events = self._staged, self._staged_events
        self._staged, self._staged_events = [], []
        try:
            self.store.write_rows(rows)
        except (sqlite3.Error, OSError, EventLogError) as exc:
            raise self._failed(exc) from exc
        self._done(rows[-1].seq, events)

    def _kick(self) -> None:
        """Hand everything staged to the writer thread, unless a write is in flight (it kicks again)."""
        self._kick_scheduled = False
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._writing or not self._staged:
            return
        if self._writer is None:
            self._writer = _Writer(self.store)
        rows, events = self._staged, self._staged_events
        self._staged, self._staged_events = [], []
        self._writing = rows
        assert self._loop is not None
        self._writer.write(rows, lambda exc: self._written(exc, rows, events), self._loop)

    def _written(self, exc: BaseException | None, rows: list[Row], events: list[RecordedEvent]) -> None:
        self._writing = []
        if exc is not None:
            self._failed(exc)
            return
        self._done(rows[-1].seq, events)
        if self._staged:
            if self._waiters:  # somebody waits for rows staged during this write
                self._kick()
            else:
                assert self._loop is not None
                self._kick_later(self._loop)

    def _done(self, seq: int, events: list[RecordedEvent]) -> None:
        self._durable_seq = seq
        for event in events:
            if self._firsts.get(event.stream_id) is event:
                del self._firsts[event.stream_id]
        while self._waiters and self._waiters[0][0] <= seq:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if len(self._versions) > VERSION_CACHE and not self._staged and not self._writing:
            self._versions.clear()
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:  # a broken listener (e.g. MQTT down) must not undo a committed decision
                log.exception("event listener failed")

    def _failed(self, exc: BaseException) -> Unavailable:
        """A write failed: tell every waiter, forget everything not on disk; the error to raise.

        A log out of reach (LogUnavailable) is LogUnreachable; any other refusal is LogUnwritable. When the log
        cannot even be read back, the state is `stale` until it can: every use tries again first.
        """
        log.error("the event log refused an append: %s", exc)
        error: Unavailable = (_unreachable(exc) if isinstance(exc, LogUnavailable) else
                              LogUnwritable(f"the event log cannot be written ({exc}); try again later"))
        for _, waiter in self._waiters:  # first: whatever the log does next, nobody waits for ever
            if not waiter.done():
                waiter.set_exception(error)
        try:
            self._load()  # the state of what is on disk; staged decisions are gone with their rows
            self._stale = False
        except (EventLogError, sqlite3.Error, OSError) as unreadable:
            log.error("the event log cannot be read back either: %s", unreadable)
            self._stale = True
            self._staged, self._staged_events, self._writing, self._waiters = [], [], [], deque()
        return error

    @property
    def stale(self) -> bool:
        """A failed write could not read the log back: what the log holds is unknown until it can."""
        return self._stale

    def _fresh(self) -> None:
        """Read the state back from the log if a failed write left it stale (LogUnreachable while it cannot)."""
        if self._stale:
            try:
                self._load()
            except LogUnavailable as exc:
                raise _unreachable(exc) from exc
            self._stale = False

    # -- snapshots and lifetime ---------------------------------------------------------------------
    def snapshot_if_due(self) -> None:
        """Store the state beside the log (a cache for a fast start) when enough durable events were folded."""
        if self.snapshots is None or self._staged or self._writing:
            return  # only a state that is all on disk may be saved
        if self.state.seq - self._snapshot_seq < self.snapshot_every:
            return
        save_snapshot(self.store, FOLD, self.snapshots, self.state, self.state.seq)
        self._snapshot_seq = self.state.seq
        log.info("snapshot saved at seq %d", self.state.seq)

    def close(self) -> None:
        """Stop the writer (after what it is writing); the store stays open for the caller to close."""
        if self._writer is not None:
            self._writer.stop()


class _Writer:
    """The thread that writes groups of rows, and hands each outcome straight back to the event loop.

    (`run_in_executor` would cost two turns of the loop per write — the future's result, then its callbacks —
    and a busy loop's turn is long: every answer waiting on the disk would wait that much more.)
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[tuple[list[Row], Callable[[BaseException | None], None],
                                            asyncio.AbstractEventLoop] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def write(self, rows: list[Row], done: Callable[[BaseException | None], None],
              loop: asyncio.AbstractEventLoop) -> None:
        """Write `rows` in one transaction; then `done(None or the error)` runs on `loop`."""
        self._jobs.put((rows, done, loop))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            rows, done, loop = job
            error: BaseException | None = None
            try:
                self.store.write_rows(rows)
            except BaseException as exc:  # handed to the loop, which turns it into LogUnwritable
                error = exc
            try:
                loop.call_soon_threadsafe(done, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                return

    def stop(self) -> None:
        """Finish what was handed over, then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout=10)


def _log_progress(done: int, target: int) -> None:
    log.info("replaying: %d / %d events", done, target)
