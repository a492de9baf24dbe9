"""The coordinator's reserved trips, moved through their lives as the clock passes: missed stops, ended trips.

A stop not begun by its company's no-show timeout (plus a grace: the station's
company frees the point first, and a check-in forwarded just before is
answered first) is recorded `TripStopMissed`; a trip whose every stop is over
is recorded `TripEnded` (FULFILLED, or NO_SHOW when no stop was charged at). A missed stop's company's
no-show fee is taken from the driver's credit with it (`NoShowFeeCharged`; what the credit cannot cover is owed).
The trips are kept in a heap by the next moment one of them may change, so a
tick looks only at what is due, however many trips are booked ahead.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime

from events.model import RecordedEvent, StreamAppend
from servers.bookings import events as ev
from servers.bookings import lifecycle, money
from servers.bookings.state import ServerState, Trip, parse_time
from servers.service.accounts import account_stream
from servers.service.engine import Engine
from servers.service.trips import trip_stream
from servers.world.network import Network


class Lifecycle:
    """Records missed stops and ended trips of this coordinator, when due (see the module's docstring)."""

    def __init__(self, engine: Engine, network: Network) -> None:
        self.engine = engine
        self.terms = {c.id: c.booking_terms for c in network.companies}
        self._due: list[tuple[datetime, str]] = []
        self._watching = False

    def next_check(self, trip: Trip) -> datetime | None:
        """When the trip may next change by the clock alone (None: it will not)."""
        if trip.status is not ev.TripStatus.COMMITTED or trip.ended:
            return None
        stops = trip.plan.get("stops", [])
        if not stops:
            arrival = trip.plan.get("arrival")
            return parse_time(arrival) if arrival else None
        pending = [lifecycle.no_show_at(parse_time(s["window_start"]), self.terms[s["company_id"]])
                   for i, s in enumerate(stops) if i not in trip.checked_in and i not in trip.missed]
        return min(pending) + lifecycle.MISSED_GRACE if pending else parse_time(trip.decided_at)  # over: end now

    def tick(self, now: datetime) -> int:
        """Record what is due by `now`; how many trips changed."""
        if not self._watching:  # the first tick: every reserved trip of the log, then each new one as committed
            self._watching = True
            for trip in self.engine.state.trips.values():
                self._watch(trip)
            self.engine.subscribe(self._on_durable)
        popped: dict[str, None] = {}  # a trip may be in the heap twice (committed, then checked in): once here
        while self._due and self._due[0][0] <= now:
            popped[heapq.heappop(self._due)[1]] = None
        due = list(popped)
        if not due:
            return 0
        missed = self.engine.execute(lambda s: self._missed(s, due, now))
        ended = self.engine.execute(lambda s: self._ended(s, due, now))
        for trip_id in due:
            again = self.engine.state.trips.get(trip_id)
            if again is not None:
                self._watch(again)
        return len(set(missed) | set(ended))

    def _watch(self, trip: Trip) -> None:
        when = self.next_check(trip)
        if when is not None:
            heapq.heappush(self._due, (when, trip.trip_id))

    def _on_durable(self, recorded: Sequence[RecordedEvent]) -> None:
        for event in recorded:  # a new reservation to watch; a check-in may end its trip
            if event.type in (ev.TripCommitted.NAME, ev.TripStopCheckedIn.NAME):
                trip = self.engine.state.trips.get(event.data["trip_id"])
                if trip is not None:
                    self._watch(trip)

    def _missed(self, state: ServerState, due: list[str], now: datetime) -> tuple[list[StreamAppend], list[str]]:
        """Record the stops missed by now, each with its company's no-show fee (in the same transaction: a stop is
        recorded missed once, so its fee is charged once)."""
        appends, changed = [], []
        balances: dict[str, int] = {}  # what each account has left after the fees of this tick
        for trip_id in due:
            trip = state.trips.get(trip_id)
            stops = lifecycle.missed_stops(trip, now, self.terms) if trip is not None else []
            if not stops:
                continue
            assert trip is not None
            appends.append(ev.append(trip_stream(trip_id), *(ev.TripStopMissed(trip_id=trip_id, stop=i)
                                                             for i in stops)))
            changed.append(trip_id)
            acc = state.accounts.get(trip.vehicle_id)
            if acc is None:
                continue
            fees = []
            for i in stops:
                company = trip.plan["stops"][i]["company_id"]
                fee = money.noshow_fee_cents(self.terms[company])
                if fee:
                    left = balances.get(acc.vehicle_id, acc.balance_cents)
                    taken = min(fee, max(left, 0))  # never below zero: the rest is owed
                    balances[acc.vehicle_id] = left - taken
                    fees.append(ev.NoShowFeeCharged(vehicle_id=acc.vehicle_id, trip_id=trip_id, stop=i,
                                                    company_id=company, amount_cents=taken, owed_cents=fee - taken))
            if fees:
                appends.append(ev.append(account_stream(acc.vehicle_id), *fees))
        return appends, changed

    def _ended(self, state: ServerState, due: list[str], now: datetime) -> tuple[list[StreamAppend], list[str]]:
        appends, changed = [], []
        for trip_id in due:
            trip = state.trips.get(trip_id)
            status = lifecycle.ending(trip, now) if trip is not None else None
            if status is not None:
                appends.append(ev.append(trip_stream(trip_id), ev.TripEnded(trip_id=trip_id, status=status)))
                changed.append(trip_id)
        return appends, changed
