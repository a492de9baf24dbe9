"""A participant's bookings as a feed of changes other companies follow (`GET /peer/v1/occupancy`).

Built from durable events only (what the log holds), kept as the last
`KEEP` changes; a follower that is further behind, or new, gets the whole
current picture instead (`reset`). A follower asks with the position it has
seen and waits (long poll) until there is something newer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from events.model import RecordedEvent
from servers.bookings import events as ev
from servers.bookings.occupancy import Changes, Window, windows_of
from servers.bookings.point_status import normalise
from servers.service.engine import Engine

KEEP = 50_000  # changes kept for followers that are behind (older: they get a reset)


def _span(start: str, end: str) -> tuple[float, float]:
    return datetime.fromisoformat(start).timestamp(), datetime.fromisoformat(end).timestamp()


class OccupancyFeed:
    """Changes to this company's booked windows and point statuses, by log position."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        state = engine.state
        # The windows of each trip still on a point, to say what a release or a finished charge removes.
        self._live: dict[str, list[Window | None]] = {
            trip: [*windows_of(part.holds, state.yieldable)] for trip, part in state.participations.items()}
        self._changes: deque[tuple[int, str, Window | tuple[str, str]]] = deque(maxlen=KEEP)
        self.seq = engine.store.head()
        self._oldest = self.seq  # the buffer holds every change after this position
        self._news: asyncio.Event | None = None
        engine.subscribe(self._on_durable)

    def _on_durable(self, events: Sequence[RecordedEvent]) -> None:
        changed = False
        for event in events:
            changed |= self._record(event)
        self.seq = events[-1].seq
        if changed and self._news is not None:
            self._news.set()
            self._news = None

    def _record(self, event: RecordedEvent) -> bool:
        d, seq = event.data, event.seq
        if event.type == ev.HoldsPlaced.NAME:
            asked = datetime.fromisoformat(d["priority"]).timestamp() if d.get("priority") else 0.0
            windows: list[Window | None] = [
                Window(f"{d['trip_id']}#{h['stop']}", h["point_id"], *_span(h["start"], h["end"]), asked)
                for h in d["holds"]]
            self._live[d["trip_id"]] = windows
            self._append(seq, [("+", w) for w in windows if w is not None])
        elif event.type == ev.HoldsConfirmed.NAME:  # reserved: the same windows, no longer yielding to anyone
            held = self._live.get(d["trip_id"], [])
            reserved = [replace(w, priority=0.0) if w is not None else None for w in held]
            self._live[d["trip_id"]] = reserved
            self._append(seq, [e for h, r in zip(held, reserved, strict=True) if h is not None and r is not None
                               and h != r for e in (("-", h), ("+", r))])
        elif event.type == ev.HoldsReleased.NAME:
            self._append(seq, [("-", w) for w in self._live.pop(d["trip_id"], []) if w is not None])
        elif event.type in (ev.ChargingFinished.NAME, ev.NoShowRecorded.NAME):
            live: list[Window | None] = self._live.get(d["trip_id"], [])
            index = d["hold_index"]
            removed = live[index] if 0 <= index < len(live) else None
            if removed is not None:
                live[index] = None
                self._append(seq, [("-", removed)])
                if all(w is None for w in live):
                    del self._live[d["trip_id"]]
        elif event.type == ev.PointStatusChanged.NAME:
            self._append(seq, [("s", (d["point_id"], normalise(d["status"])))])
        else:
            return False
        return True

    def _append(self, seq: int, entries: list[tuple[str, Window | tuple[str, str]]]) -> None:
        for kind, what in entries:
            if len(self._changes) == self._changes.maxlen:
                self._oldest = self._changes[0][0]  # about to fall out: a follower before it needs a reset
            self._changes.append((seq, kind, what))

    def since(self, after: int) -> Changes:
        """Every change after position `after`, or the whole picture when `after` is older than what is kept
        (a new follower asks from -1)."""
        if after < self._oldest:
            return self.snapshot()
        out = Changes(seq=max(self.seq, after))
        added: dict[Window, None] = {}  # in order; a window added and removed within the span is neither
        for seq, kind, what in self._changes:
            if seq <= after:
                continue
            if kind == "+":
                assert isinstance(what, Window)
                added[what] = None
            elif kind == "-":
                assert isinstance(what, Window)
                if added.pop(what, 0) is not None:
                    out.removed.append(what)
            else:
                point, status = what  # type: ignore[misc]
                out.status[point] = status
        out.added = list(added)
        return out

    def snapshot(self) -> Changes:
        """Everything booked here now, and every point out of service."""
        state = self.engine.state
        return Changes(seq=self.seq, reset=True,
                       added=[w for holds in state.occupancy.values()
                              for w in windows_of(holds.values(), state.yieldable)],
                       status={p: normalise(s) for p, s in state.point_status.items()})

    async def wait(self, after: int, timeout: float) -> Changes:
        """`since(after)`, waiting up to `timeout` seconds for a change when there is none yet."""
        if self.seq <= after and after >= self._oldest:
            if self._news is None:
                self._news = asyncio.Event()
            news = self._news
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(news.wait(), timeout)
        return self.since(after)
