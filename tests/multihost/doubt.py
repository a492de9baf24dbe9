"""Trips in doubt: held at a participant that has voted and not yet heard the outcome, read from the logs."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from events.model import RecordedEvent
from events.store import SqliteEventStore
from servers.bookings import events as ev

_OUTCOMES = (ev.HoldsConfirmed.NAME, ev.HoldsReleased.NAME)


def _concerns(company: str, event: RecordedEvent, cut: str) -> bool:
    coordinator = event.data["coordinator"]
    return coordinator != company and cut in (company, coordinator)


def in_doubt(logs: Mapping[str, Sequence[RecordedEvent]], cut: str, cut_at: datetime) -> dict[str, str]:
    """Trips whose holds at another company than their coordinator, with `cut` on either side, spanned `cut_at`.

    Held before the cut, their outcome reached that participant only after
    it: {trip id: the outcome event there}.
    """
    placed: dict[tuple[str, str], bool] = {}
    ended: dict[str, str] = {}
    for company, events in logs.items():
        for e in events:
            trip = e.data.get("trip_id", "")
            if e.type == ev.HoldsPlaced.NAME and _concerns(company, e, cut):
                placed[(company, trip)] = e.recorded_at < cut_at
            elif e.type in _OUTCOMES and placed.get((company, trip)) and e.recorded_at >= cut_at:
                ended.setdefault(trip, e.type)
    return ended


def wait_for_open_hold(logs: Mapping[str, Path], cut: str, timeout: float) -> str | None:
    """Poll the logs until some participant holds a trip that a cut of `cut` would leave in doubt; its id."""
    stores = {c: SqliteEventStore(p, create=False) for c, p in logs.items()}
    try:
        after = {c: s.head() for c, s in stores.items()}
        open_: set[tuple[str, str]] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for company, store in stores.items():
                for e in store.read_all(after=after[company]):
                    after[company] = e.seq
                    key = (company, e.data.get("trip_id", ""))
                    if e.type == ev.HoldsPlaced.NAME and _concerns(company, e, cut):
                        open_.add(key)
                    elif e.type in _OUTCOMES:
                        open_.discard(key)
            if open_:
                return next(iter(open_))[1]
            time.sleep(0.002)
        return None
    finally:
        for store in stores.values():
            store.close()
