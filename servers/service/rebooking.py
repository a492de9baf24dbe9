"""Re-booking a reserved trip whose stop's point failed and whose station has no other point free for it.

The station's company reports the stop BROKEN (`Coordinator.notice`); the coordinator re-plans the trip from
the stop before (its city, its departure, the charge the car leaves it with; the trip's origin for the first
stop) around the failed point and what is taken, and runs a two-phase transaction of its own over the
changed stops — an *amendment*, `"{trip}~{n}"`, the id its new stops are held under:

1. `TripAmendRequested` (the whole trip as it would be, the new stops by company, the old stops each company
   releases at the commit), then a prepare of the new stops at their companies;
2. all yes, and the credit for a dearer trip → `TripAmended` with the price difference debited or refunded,
   in one append (the commit point); otherwise `TripAmendAborted`, and the trip keeps every reservation it had
   (the driver is told at once, with the options: cancel with a full refund, or wait — it is tried again);
3. the decision is delivered: the new stops' holds confirmed, then the old stops released (`StopsReleased`),
   retried by the recovery loop until every company acknowledges.

So the old stop is released only once the new one is committed, and the trip is never left with fewer
reservations than it needs. The driver hears of each step over MQTT and sees it in the trip (`notices`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from contract.models import TripIn
from events.model import StreamAppend
from servers.bookings import events as ev
from servers.bookings.errors import DomainError
from servers.bookings.state import Amendment, ServerState, Trip, parse_time
from servers.service.accounts import account_stream
from servers.service.planning import exclude_refused
from servers.service.trips import trip_stream
from servers.world.plans import Exclusions, Plan, splice

if TYPE_CHECKING:
    from servers.service.coordinator import Coordinator

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)  # a stop not re-booked is tried again this often, until its window opens
MAX_ATTEMPTS = 3  # re-plans around what the companies refused, per try


class Rebooking:
    """The coordinator's re-bookings (see the module's docstring)."""

    def __init__(self, coordinator: Coordinator) -> None:
        self.c = coordinator
        self._running: set[str] = set()  # trips being re-booked now
        self._tried: dict[str, datetime] = {}  # trip -> when it was last tried and nothing fitted
        self._tasks: set[asyncio.Task[Any]] = set()

    def soon(self, trip_id: str) -> None:
        """Re-book the trip in the background (once at a time per trip); without a running loop (a test calling
        in), the recovery loop's next round does (`due`)."""
        if trip_id in self._running:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._running.add(trip_id)
        task = loop.create_task(self._run(trip_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, trip_id: str) -> None:
        try:
            await self.rebook(trip_id)
        except Exception:  # the recovery loop tries again
            log.exception("trip %s: re-booking failed", trip_id)
        finally:
            self._running.discard(trip_id)

    def due(self, now: datetime) -> list[str]:
        """Trips with a broken stop, no re-booking in flight, and not tried within `RETRY_AFTER`."""
        state = self.c.engine.state
        busy = {a.trip_id for a in state.amendments.values() if a.status is ev.TripStatus.REQUESTED}
        return [t.trip_id for t in state.trips.values()
                if t.broken and t.status is ev.TripStatus.COMMITTED and t.trip_id not in busy
                and t.trip_id not in self._running and self._tried.get(t.trip_id, now - RETRY_AFTER) + RETRY_AFTER
                <= now]

    async def rebook(self, trip_id: str) -> str:
        """Re-plan and re-book, up to `MAX_ATTEMPTS` times around what the companies refused: REBOOKED,
        NOT_REBOOKED (why is in the trip's notices), or NOTHING (not due)."""
        c = self.c
        now = c.engine.clock()
        trip = c.engine.state.trips.get(trip_id)
        if trip is None or trip.status is not ev.TripStatus.COMMITTED or not trip.broken or trip.ended:
            return "NOTHING"
        old = Plan.from_json(trip.plan)
        k = min(int(s) for s in trip.broken)
        if old.stops[k].window_end <= now:
            return "NOTHING"  # its window is over: nothing left to re-book
        failed = frozenset(trip.points[int(s)] for s in trip.broken if int(s) < len(trip.points))
        asked = parse_time(trip.asked_at) if trip.asked_at and c.priority_rule else None
        exclude = Exclusions(points=failed, busy=c.planner.exclusions((), asked=asked, mine=trip_id).busy)
        refused: ev.No | None = None
        for _ in range(MAX_ATTEMPTS):
            try:
                merged = self._replan(trip, old, k, now, exclude)
            except DomainError as exc:
                self._tried[trip_id] = now
                code, reason = (refused.code, refused.reason) if refused is not None else (exc.code, exc.message)
                return self._not_rebooked(trip, k, code, reason)
            status, refusals = await self._attempt(trip, old, k, merged)
            if status is ev.TripStatus.COMMITTED:
                self._tried.pop(trip_id, None)
                return "REBOOKED"
            trip = c.engine.state.trips.get(trip_id)
            if trip is None or trip.status is not ev.TripStatus.COMMITTED or not refusals:
                break  # cancelled meanwhile, or aborted for a reason planning around will not change
            refused = refusals[0]
            exclude = exclude_refused(exclude, merged, refusals, c.network)
        self._tried[trip_id] = now
        return "NOT_REBOOKED"

    async def _attempt(self, trip: Trip, old: Plan, k: int,
                       merged: Plan) -> tuple[ev.TripStatus, list[ev.No]]:
        """One amendment: record it, prepare its new stops, decide, deliver; its status and the refusals."""
        c = self.c
        trip_id = trip.trip_id
        amendment_id = f"{trip_id}~{trip.amendments + 1}"
        grouped: dict[str, list[dict[str, Any]]] = {}
        for index, stop in enumerate(merged.stops[k:], start=k):
            grouped.setdefault(stop.company_id, []).append({
                "stop": index, "station_id": stop.station_id, "start": stop.window_start.isoformat(),
                "end": stop.window_end.isoformat(), "min_power_kw": stop.power_kw,
                "energy_kwh": round(stop.energy_kwh, 3)})
        releases: dict[str, dict[str, list[int]]] = {}
        for index, stop in enumerate(old.stops[k:], start=k):
            releases.setdefault(stop.company_id, {}).setdefault(trip.hold_id(index), []).append(index)
        cost_by_company = merged.cost_cents_by_company
        requested = ev.TripAmendRequested(
            trip_id=trip_id, amendment_id=amendment_id, from_stop=k, plan=merged.to_json(),
            participants=sorted(grouped), stops_by_company=grouped, releases=releases,
            cost_cents=sum(cost_by_company.values()), cost_by_company_cents=cost_by_company)
        c.engine.execute(lambda s: ([ev.append(trip_stream(trip_id), requested)], None))
        priority = parse_time(trip.asked_at) if trip.asked_at else c.engine.clock()
        c._inflight.add(amendment_id)
        try:
            votes = await c._prepare_all(amendment_id, priority, grouped)
            status = c.engine.execute(partial(self._decide, amendment_id, votes))
            await c.engine.durable()
        finally:
            c._inflight.discard(amendment_id)
        refusals = [v for v in votes.values() if isinstance(v, ev.No)]
        yielded = c._yielded.pop(amendment_id, None)
        if status is ev.TripStatus.ABORTED and not refusals and yielded is not None:
            # It gave a point to a request that asked earlier (often another trip's re-booking after the same
            # fault): the next attempt plans around that point, as a booking does — not a give-up until the
            # retry 30 s later (measured: 2 of 25 stops left broken where capacity existed, 300 cars).
            refusals = [c._why_aborted(amendment_id, votes, yielded)]
        await self.complete(amendment_id)
        return status, refusals

    def _replan(self, trip: Trip, old: Plan, k: int, now: datetime, exclude: Exclusions) -> Plan:
        """The trip from stop `k` on, planned again around the failed points and what is taken."""
        c = self.c
        if k == 0:
            origin, departure, charge = old.origin, old.departure, None
        else:
            before = old.stops[k - 1]
            origin, departure, charge = before.city_id, before.depart_at, before.arrive_kwh + before.energy_kwh
        ask = TripIn(origin=origin, destination=old.destination, departure=max(departure, now), charge_kwh=charge)
        vehicle = c.planner.vehicle_of(trip.vehicle_id, ask)
        if charge is not None:
            vehicle = replace(vehicle, charge_kwh=min(charge, vehicle.capacity_kwh))
        suffix = c.planner.plan(ask, vehicle, exclude)[0]
        return splice(old, k, suffix, c.network.road_km)

    def _not_rebooked(self, trip: Trip, k: int, code: str, reason: str) -> str:
        """Nothing fits: the driver is told at once (once per code), with the options."""
        told = any(n.get("kind") == "NOT_REBOOKED" and n.get("code") == code and n.get("stop") == k
                   for n in trip.notices)
        if not told:
            amendment_id = f"{trip.trip_id}~{trip.amendments + 1}"
            requested = ev.TripAmendRequested(
                trip_id=trip.trip_id, amendment_id=amendment_id, from_stop=k, plan=trip.plan, participants=[],
                stops_by_company={}, releases={}, cost_cents=trip.cost_cents,
                cost_by_company_cents=dict(trip.cost_by_company_cents))
            aborted = ev.TripAmendAborted(trip_id=trip.trip_id, amendment_id=amendment_id, code=code,
                                          reason=f"no re-booking fits: {reason}")
            self.c.engine.execute(lambda s: ([ev.append(trip_stream(trip.trip_id), requested, aborted)], None))
        return "NOT_REBOOKED"

    def _decide(self, amendment_id: str, votes: dict[str, ev.Vote],
                state: ServerState) -> tuple[list[StreamAppend], ev.TripStatus]:
        """The commit point of a re-booking: all yes and the credit for a dearer trip → amended; else aborted."""
        a = state.amendments.get(amendment_id)
        if a is None or a.status is not ev.TripStatus.REQUESTED:  # aborted meanwhile (an outcome query)
            return [], a.status if a is not None else ev.TripStatus.ABORTED
        trip = state.trips[a.trip_id]
        recorded: list[ev.Event] = []
        no = [v for v in votes.values() if isinstance(v, ev.No)]
        delta = a.cost_cents - trip.cost_cents
        acc = state.accounts[trip.vehicle_id]
        if trip.status is not ev.TripStatus.COMMITTED:  # cancelled meanwhile
            no.append(ev.No(code="NOT_CONFIRMED", reason=f"the trip is {trip.status}"))
        if not no and delta > acc.balance_cents:
            no.append(ev.No(code="INSUFFICIENT_CREDIT",
                            reason=f"the re-booked trip costs R$ {delta / 100:.2f} more and the credit is "
                                   f"R$ {acc.balance_cents / 100:.2f}"))
        if no:
            recorded.append(ev.TripAmendAborted(trip_id=a.trip_id, amendment_id=amendment_id, code=no[0].code,
                                                reason=no[0].reason))
            return [ev.append(trip_stream(a.trip_id), *recorded)], ev.TripStatus.ABORTED
        points = {h.stop: h.point_id for v in votes.values() if isinstance(v, ev.Yes) for h in v.holds}
        recorded.append(ev.TripAmended(trip_id=a.trip_id, amendment_id=amendment_id,
                                       points=[points.get(i, "") for i in range(a.from_stop,
                                                                                 len(a.plan.get("stops", [])))]))
        appends = [ev.append(trip_stream(a.trip_id), *recorded)]
        if delta > 0:
            appends.append(ev.append(account_stream(trip.vehicle_id), ev.TripDebited(
                vehicle_id=trip.vehicle_id, trip_id=amendment_id, amount_cents=delta)))
        elif delta < 0:
            appends.append(ev.append(account_stream(trip.vehicle_id), ev.TripRefunded(
                vehicle_id=trip.vehicle_id, trip_id=amendment_id, amount_cents=-delta)))
        return appends, ev.TripStatus.COMMITTED

    async def complete(self, amendment_id: str) -> bool:
        """Deliver a re-booking's decision to every company not yet acknowledged; True when all have."""
        a = self.c.engine.state.amendments.get(amendment_id)
        if a is None:
            return True
        if a.status is ev.TripStatus.REQUESTED:
            return False
        await self.c.engine.durable()
        pending = [k for k in a.expected() if k not in a.acked]
        results = await asyncio.gather(*(self._tell(a, key) for key in pending))
        done = [k for k, ok in zip(pending, results, strict=True) if ok]
        if done:
            self.c.engine.execute(partial(self._record_acks, amendment_id, done))
        return len(done) == len(pending)

    async def _tell(self, a: Amendment, key: str) -> bool:
        company, _, what = key.partition(":")
        peer = self.c.peers.get(company)
        try:
            if peer is None:
                raise DomainError(f"no address for company {company!r}")
            if what == "commit":
                await peer.commit(a.amendment_id)
            elif what == "abort":
                await peer.abort(a.amendment_id, a.reason or "re-booking aborted")
            else:
                for hold_id, stops in a.releases[company].items():
                    await peer.release(hold_id, f"re-booked from stop {a.from_stop} ({a.amendment_id})", stops)
        except Exception as exc:  # not reached, or refused: the recovery loop tries again
            log.warning("re-booking %s: %s not told %s yet: %s", a.amendment_id, company, what, exc)
            return False
        return True

    @staticmethod
    def _record_acks(amendment_id: str, keys: list[str], state: ServerState) -> tuple[list[StreamAppend], None]:
        a = state.amendments.get(amendment_id)
        if a is None:
            return [], None
        acks = [ev.TripAmendAcked(trip_id=a.trip_id, amendment_id=amendment_id, company=k.partition(":")[0],
                                  what=k.partition(":")[2]) for k in keys if k not in a.acked]
        return ([ev.append(trip_stream(a.trip_id), *acks)] if acks else []), None

    async def resume(self, now: datetime) -> None:
        """Abort re-bookings left undecided (nobody works on them), deliver decided ones, retry broken trips."""
        c = self.c
        state = c.engine.state
        for a in list(state.amendments.values()):
            stale = parse_time(a.requested_at) + c.stale_after <= now
            if a.status is ev.TripStatus.REQUESTED and stale and a.amendment_id not in c._inflight:
                c.abort_undecided_amendment(a.amendment_id, "TIMEOUT", "no decision in time")
        await asyncio.gather(*(self.complete(a) for a in list(state.amendments)))
        for trip_id in self.due(now):
            self.soon(trip_id)
