"""Every point's live OCPI status at this company, kept current as events land and as time passes.

`servers.bookings.point_status.derive` says what a point is now; this keeps the
answer for each of the company's points and notices when it changes:

- on durable events that can change a point's status *now* — an operator's status, a charging session
  starting or finishing, a no-show, a reservation confirmed or released while its window is open, a stop
  moved to another point. A booking of a future window re-evaluates nothing: it at most moves the point's
  next due time earlier (a heap entry), so a storm of bookings costs a comparison each;
- when time alone changes it (a confirmed window opening or closing): each point has its next due moment in
  a heap, and `tick(now)` re-evaluates only the points that are due.

Changed points are collected for the live topics to publish (`take_changed`); REST reads `all()`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from events.model import RecordedEvent
from servers.bookings import events as ev
from servers.bookings.point_status import CHARGING, RESERVED, UNKNOWN, Derived, derive
from servers.bookings.state import CONFIRMED, ServerState
from servers.service.engine import Engine
from servers.world.network import Network


@dataclass(frozen=True, slots=True)
class PointLive:
    """A point's live status and since when (the window's opening for RESERVED; else when it was seen)."""

    point_id: str
    station_id: str
    company_id: str
    status: str
    since: datetime

    def to_json(self) -> dict[str, str]:
        return {"point_id": self.point_id, "station_id": self.station_id, "company_id": self.company_id,
                "status": self.status, "since": self.since.isoformat()}


# Events naming the one point whose status they may change now.
_ONE_POINT = {ev.PointStatusChanged.NAME, ev.ChargingStarted.NAME, ev.ChargingFinished.NAME,
              ev.NoShowRecorded.NAME}


class PointStatuses:
    """The live status of each of the company's points (see the module's docstring)."""

    def __init__(self, engine: Engine, network: Network, company: str) -> None:
        self.engine = engine
        self.company = company
        self.station_of = {p.id: s.id for s in network.stations_of(company) for p in s.points}
        self.early_start = timedelta(minutes=network.company(company).booking_terms.early_start_minutes)
        self._live: dict[str, PointLive] = {}
        self._due: list[tuple[datetime, str]] = []  # (when, point): re-evaluate then (stale entries are harmless)
        self._due_at: dict[str, datetime] = {}  # point -> its earliest due entry
        self._holding: dict[str, set[str]] = {}  # trip -> the points it makes RESERVED or CHARGING now
        self._held_by: dict[str, str] = {}  # and back: point -> that trip
        self._changed: set[str] = set()
        now = engine.clock()
        for point in self.station_of:
            self._evaluate(point, now, engine.state)
        self._changed.clear()  # nothing has changed yet: the first publish sends every point anyway
        engine.subscribe(self._on_durable)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, point_id: str) -> PointLive:
        """One point's live status (UNKNOWN for a point this company does not have)."""
        found = self._live.get(point_id)
        return found if found is not None else PointLive(point_id, "", self.company, UNKNOWN, self.engine.clock())

    def all(self) -> list[PointLive]:
        """Every point of the company, in the network file's order, brought up to the clock first."""
        self.tick(self.engine.clock())
        return [self._live[p] for p in self.station_of]

    def take_changed(self) -> list[PointLive]:
        """The points whose status changed since the last call, once each."""
        changed, self._changed = self._changed, set()
        return [self._live[p] for p in sorted(changed)]

    # -- keeping current ----------------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        """Re-evaluate the points whose next change is due by `now` (a window opened or closed)."""
        due: set[str] = set()
        while self._due and self._due[0][0] <= now:
            when, point = heapq.heappop(self._due)
            if self._due_at.get(point) == when:
                del self._due_at[point]
                due.add(point)
        if due:
            state = self.engine.state
            for point in due:
                self._evaluate(point, now, state)

    def _on_durable(self, events: Sequence[RecordedEvent]) -> None:
        state, now = self.engine.state, self.engine.clock()
        points: set[str] = set()
        for event in events:
            kind, d = event.type, event.data
            if kind in _ONE_POINT:
                points.add(d["point_id"])
            elif kind == ev.HoldMoved.NAME:
                points.update((d["point_id"], d["from_point_id"]))
            elif kind in (ev.HoldsReleased.NAME, ev.StopsReleased.NAME):
                points.update(self._holding.get(d["trip_id"], ()))  # only a point it holds now can change
            elif kind == ev.HoldsConfirmed.NAME:
                points.update(self._confirmed(state, d["trip_id"], now))
        for point in points:
            if point in self.station_of:
                self._evaluate(point, now, state)

    def _confirmed(self, state: ServerState, trip_id: str, now: datetime) -> list[str]:
        """The points of a newly reserved trip whose window is open now; the later ones are put in the heap."""
        part = state.participations.get(trip_id)
        if part is None or part.status != CONFIRMED:
            return []
        open_now = []
        for hold in part.holds:
            opens = hold.window[0] - self.early_start
            if opens <= now < hold.window[1]:
                open_now.append(hold.point_id)
            elif now < opens:
                self._schedule(hold.point_id, opens)
        return open_now

    def _schedule(self, point: str, when: datetime) -> None:
        current = self._due_at.get(point)
        if current is None or when < current:
            self._due_at[point] = when
            heapq.heappush(self._due, (when, point))

    def _evaluate(self, point: str, now: datetime, state: ServerState) -> None:
        found: Derived = derive(state, point, now, self.early_start, known=point in self.station_of)
        before = self._live.get(point)
        if before is None or before.status != found.status:
            since = found.since or now
            self._live[point] = PointLive(point, self.station_of.get(point, ""), self.company, found.status, since)
            self._changed.add(point)
        holder = found.trip if found.status in (RESERVED, CHARGING) else ""
        previous = self._held_by.pop(point, "")
        if previous and previous != holder:
            held = self._holding[previous]
            held.discard(point)
            if not held:
                del self._holding[previous]
        if holder:
            self._held_by[point] = holder
            self._holding.setdefault(holder, set()).add(point)
        if found.next_change is not None:
            self._schedule(point, found.next_change)
