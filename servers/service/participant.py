"""The participant side of a trip: hold points at prepare, confirm or release at the decision.

Every call is idempotent: a repeated prepare gets the first vote, a repeated
commit or abort changes nothing more. A trip that is over here (refused,
released, or finished long ago) is no longer in the state; its hold stream in
the log still answers a repeated prepare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from contract.models import CheckInIn, NoticeIn, PrepareIn
from events.model import StreamAppend
from servers.bookings import booking, lifecycle, money, point_status
from servers.bookings import events as ev
from servers.bookings.errors import Conflict, DomainError, NotFound
from servers.bookings.events import Charging
from servers.bookings.state import CONFIRMED, HELD, RELEASED, Participation, ServerState, parse_time
from servers.faults import fault
from servers.service.engine import Engine
from servers.world.network import Network, Station

log = logging.getLogger(__name__)


def hold_stream(trip_id: str) -> str:
    """The stream of one trip's holds at this participant."""
    return f"hold:{trip_id}"


def yes_vote(part: Participation) -> ev.Yes:
    """The yes vote of a trip this participant holds (or held) points for."""
    return ev.Yes(trip_id=part.trip_id, holds=[
        ev.HoldData(stop=h.stop, station_id=h.station_id, point_id=h.point_id, power_kw=h.power_kw, start=h.start,
                    end=h.end, energy_kwh=h.energy_kwh) for h in part.holds])


class Participant:
    """Holds and reservations of one company's own points."""

    def __init__(self, engine: Engine, network: Network, company_id: str,
                 hold_timeout: timedelta = timedelta(seconds=30),
                 ask_outcome: Callable[[str, str, str, str], Awaitable[str]] | None = None) -> None:
        self.engine = engine
        self.network = network
        self.company_id = company_id
        self.hold_timeout = hold_timeout
        # (coordinator, trip, asked by, point) -> "commit" | "abort": how a later trip is asked to yield a point
        # (`peers.outcome_asker(peers)`; without it, holds are first come, first served).
        self.ask_outcome = ask_outcome

    async def prepare(self, req: PrepareIn) -> ev.Vote:
        """Vote on a trip: hold a point for each stop (yes) or refuse with a reason and alternatives (no).

        A stop held only by later, undecided trips is won by asking them to yield first (`booking.Wound`).
        """
        asker = (req.priority, req.trip_id) if self.ask_outcome is not None else None
        decided = self.engine.execute(partial(self._decide_prepare, req, asker))
        if isinstance(decided, booking.Wound):
            await self._wound(decided, req.trip_id)
            decided = self.engine.execute(partial(self._decide_prepare, req, None))
        assert not isinstance(decided, booking.Wound)  # no asker: nothing is wounded twice
        if isinstance(decided, ev.Yes):
            fault("participant.after_vote")
        return decided

    def _decide_prepare(self, req: PrepareIn, asker: tuple[datetime, str] | None,
                        state: ServerState) -> tuple[list[StreamAppend], ev.Vote | booking.Wound]:
        known = state.participations.get(req.trip_id)
        if known is not None:  # a retry while held or reserved: the first vote
            return [], yes_vote(known)
        first = self.engine.first(hold_stream(req.trip_id))
        if first is not None:  # a retry of a trip that is over here
            over = ev.parse(first)
            return [], (over.vote() if isinstance(over, ev.PrepareRefused) else
                        ev.No(trip_id=req.trip_id, code="TRIP_OVER",
                              reason="this trip's points here were already released"))
        stops = [booking.StopRequest(s.stop, s.station_id, s.start, s.end, s.min_power_kw, s.energy_kwh)
                 for s in req.stops]
        mine = booking.family(req.trip_id) if "~" in req.trip_id else None  # a re-booking: its trip's holds go
        decision = booking.decide_prepare(state, self.network, self.company_id, stops, asker, mine)
        if isinstance(decision, booking.Wound):
            return [], decision
        priority = req.priority.isoformat()
        if isinstance(decision, booking.Refusal):
            refused = ev.PrepareRefused(
                trip_id=req.trip_id, coordinator=req.coordinator, priority=priority, code=decision.code,
                reason=decision.reason, stop=decision.stop, station_id=decision.station_id,
                conflicts=decision.conflicts, alternatives=decision.alternatives)
            return [ev.append(hold_stream(req.trip_id), refused, expected_version=0)], refused.vote()
        deadline = (self.engine.clock() + self.hold_timeout).isoformat()
        placed = ev.HoldsPlaced(trip_id=req.trip_id, coordinator=req.coordinator, priority=priority,
                                deadline=deadline, holds=decision)
        return [ev.append(hold_stream(req.trip_id), placed, expected_version=0)], ev.Yes(
            trip_id=req.trip_id, holds=decision)

    async def _wound(self, wound: booking.Wound, trip_id: str) -> None:
        """Ask each later trip in the way for its outcome (undecided → aborted); release those aborted.

        A coordinator that does not answer keeps its hold, and one that answers commit has it reserved here at
        once (its own commit, on its way, changes nothing more): the asker is refused.
        """
        assert self.ask_outcome is not None
        ask = self.ask_outcome

        async def settle(victim: str, coordinator: str) -> None:
            try:
                outcome = await ask(coordinator, victim, trip_id, wound.point_id)
            except Exception as exc:  # unreachable or refused: no outcome, no release
                log.info("trip %s: %s's coordinator %s did not yield (%s)", trip_id, victim, coordinator, exc)
                return
            if outcome == "abort":
                self._release(victim, f"yielded point {wound.point_id} to trip {trip_id}, which asked earlier",
                              allow_confirmed=False)
            elif victim in self.engine.state.participations:
                self.commit(victim)

        await asyncio.gather(*(settle(v, c) for v, c in wound.victims))

    def commit(self, trip_id: str) -> dict[str, Any]:
        """Turn the trip's holds into reservations."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            part = self._get(state, trip_id, over="NOT_HELD")
            if part.status == CONFIRMED:
                return [], {"trip_id": trip_id, "status": CONFIRMED}
            return ([ev.append(hold_stream(trip_id), ev.HoldsConfirmed(trip_id=trip_id))],
                    {"trip_id": trip_id, "status": CONFIRMED})

        return self.engine.execute(decide)

    def abort(self, trip_id: str, reason: str = "aborted by coordinator") -> dict[str, Any]:
        """Release the holds of an aborted trip (unknown or already released: nothing to do)."""
        return self._release(trip_id, reason, allow_confirmed=False)

    def release(self, trip_id: str, reason: str = "cancelled", stops: list[int] | None = None) -> dict[str, Any]:
        """Release the reservations of a cancelled trip — or, given `stops`, of those stops only (the trip was
        re-booked elsewhere from them on: its other stops stay reserved here)."""
        if stops is None:
            return self._release(trip_id, reason, allow_confirmed=True)

        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            part = state.participations.get(trip_id)
            todo = [h.stop for h in part.holds if h.stop in stops and not h.charging] if part is not None else []
            if not todo:  # never held here, released already, or begun (a stop begun is not taken back)
                return [], {"trip_id": trip_id, "status": RELEASED}
            return ([ev.append(hold_stream(trip_id), ev.StopsReleased(trip_id=trip_id, stops=todo, reason=reason))],
                    {"trip_id": trip_id, "status": RELEASED})

        return self.engine.execute(decide)

    def _release(self, trip_id: str, reason: str, *, allow_confirmed: bool) -> dict[str, Any]:
        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            part = state.participations.get(trip_id)
            if part is None:  # never held here, or already released
                return [], {"trip_id": trip_id, "status": RELEASED}
            if part.status == CONFIRMED and not allow_confirmed:
                raise Conflict(f"trip {trip_id} was committed here; abort is not possible", code="COMMITTED")
            return ([ev.append(hold_stream(trip_id), ev.HoldsReleased(trip_id=trip_id, reason=reason))],
                    {"trip_id": trip_id, "status": RELEASED})

        return self.engine.execute(decide)

    def check_in(self, req: CheckInIn, caller: str | None = None) -> dict[str, Any]:
        """A vehicle starts or finishes charging at the point reserved for one of its stops.

        The trip's coordinator (`caller`) forwards a check-in only for a committed trip: when its commit has not
        arrived yet (phase two is delivered in the background), the check-in tells it, and the holds are
        confirmed first.
        """
        company = self.network.company(self.company_id)
        part = self.engine.state.participations.get(req.trip_id)
        if part is not None and part.status == HELD and caller == part.coordinator:
            self.commit(req.trip_id)

        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            part = self._get(state, req.trip_id, over="NOT_RESERVED")
            if part.status != CONFIRMED:
                raise Conflict(f"trip {req.trip_id} has no reservation here", code="NOT_RESERVED")
            index = next((i for i, h in enumerate(part.holds) if h.stop == req.stop), None)
            if index is None:
                raise NotFound(f"trip {req.trip_id} has no stop {req.stop} here", code="UNKNOWN_STOP")
            hold = part.holds[index]
            base = {"trip_id": req.trip_id, "hold_index": index, "point_id": hold.point_id,
                    "station_id": hold.station_id}
            if req.action == "start":
                if hold.charging == Charging.CHARGING:
                    return [], {**base, "charging": Charging.CHARGING}
                if hold.charging == Charging.NO_SHOW:
                    raise Conflict(f"the reservation at stop {req.stop} was released (NO_SHOW)", code="NO_SHOW")
                if hold.charging:
                    raise Conflict(f"stop {req.stop} is already {hold.charging}", code="ALREADY_DONE")
                missed = lifecycle.no_show_at(hold.window[0], company.booking_terms)
                if self.engine.clock() >= missed:
                    raise Conflict(f"the reservation at stop {req.stop} was released at {missed:%H:%M} UTC, "
                                   f"{company.booking_terms.noshow_timeout_minutes} min after its window opened "
                                   "without a check-in (NO_SHOW)", code="NO_SHOW")
                started = ev.ChargingStarted(trip_id=req.trip_id, hold_index=index, point_id=hold.point_id,
                                             station_id=hold.station_id, started_at=self.engine.clock().isoformat())
                return [ev.append(hold_stream(req.trip_id), started)], {**base, "charging": Charging.CHARGING}
            if hold.charging == Charging.FINISHED:
                return [], {**base, "charging": Charging.FINISHED, "energy_kwh": hold.charged_kwh,
                            **({"cdr": hold.cdr} if hold.cdr else {})}
            if hold.charging != Charging.CHARGING:
                raise Conflict(f"stop {req.stop} has not started charging", code="NOT_CHARGING")
            energy = hold.energy_kwh if req.energy_kwh is None else req.energy_kwh
            now = self.engine.clock()
            cdr = money.charge_record(self.network.tariff(hold.station_id), company.booking_terms,
                                      started_at=parse_time(hold.started_at) if hold.started_at else now,
                                      finished_at=now, energy_kwh=energy, power_kw=hold.power_kw,
                                      window_end=hold.window[1])
            price = cdr.price.to_json()
            finished = ev.ChargingFinished(
                trip_id=req.trip_id, hold_index=index, point_id=hold.point_id, station_id=hold.station_id,
                energy_kwh=energy, cost_cents=cdr.price.total, started_at=cdr.started_at.isoformat(),
                finished_at=cdr.finished_at.isoformat(), charge_minutes=cdr.charge_minutes,
                idle_minutes=cdr.idle_minutes, price=price)
            return ([ev.append(hold_stream(req.trip_id), finished)],
                    {**base, "energy_kwh": energy, "cost_cents": cdr.price.total, "charging": Charging.FINISHED,
                     "cdr": {"energy_kwh": energy, "started_at": finished.started_at,
                             "finished_at": finished.finished_at, "charge_minutes": cdr.charge_minutes,
                             "idle_minutes": cdr.idle_minutes, "price": price}})

        return self.engine.execute(decide)

    def overdue(self, now: datetime) -> list[tuple[str, str]]:
        """(trip, coordinator) of every hold still undecided past its deadline: ask their coordinators."""
        return self.engine.read(lambda s: [(p.trip_id, p.coordinator) for p in
                                           (s.participations[t] for t in s.open_holds)
                                           if p.status == HELD and parse_time(p.deadline) <= now])

    def extend(self, trip_id: str, now: datetime) -> None:
        """Push an undecided hold's deadline while its coordinator cannot be reached (never drop it)."""
        deadline = (now + self.hold_timeout).isoformat()
        def decide(state: ServerState) -> tuple[list[StreamAppend], None]:
            part = state.participations.get(trip_id)
            if part is None or part.status != HELD:  # decided (and maybe released) meanwhile
                return [], None
            return [ev.append(hold_stream(trip_id), ev.HoldDeadlineExtended(trip_id=trip_id, deadline=deadline))], None

        self.engine.execute(decide)

    def record_no_shows(self, now: datetime) -> int:
        """Free every reserved point not begun by the company's no-show timeout (OCPI: NO_SHOW)."""
        terms = self.network.company(self.company_id).booking_terms
        fee = money.noshow_fee_cents(terms)

        def decide(state: ServerState) -> tuple[list[StreamAppend], int]:
            appends = []
            for part in (state.participations[t] for t in state.open_holds):
                if part.status != CONFIRMED:
                    continue
                for i, hold in enumerate(part.holds):
                    if not hold.charging and lifecycle.no_show_at(hold.window[0], terms) <= now:
                        appends.append(ev.append(hold_stream(part.trip_id), ev.NoShowRecorded(
                            trip_id=part.trip_id, hold_index=i, point_id=hold.point_id, fee_cents=fee)))
            return appends, len(appends)

        return self.engine.execute(decide)

    def set_point_status(self, point_id: str, status: str, reason: str = "") -> str:
        """Set a point's status by OCPI's names (out of service, or back in it: AVAILABLE, CHARGING, RESERVED);
        the reservations of a failed point move at once. The status recorded (OCPI's spelling; AVAILABLE for
        every "in service" name)."""
        self._own_station(self.network.point_owner, "point", point_id, "UNKNOWN_POINT")
        recorded = point_status.operator_status(status)
        if recorded not in point_status.STATUSES:
            raise DomainError(f"unknown point status {status!r}; OCPI's names: {', '.join(point_status.STATUSES)}",
                              code="UNKNOWN_STATUS", status=422)
        changed = ev.PointStatusChanged(point_id=point_id, status=recorded, reason=reason)
        self.engine.execute(lambda s: ([ev.append(f"point:{point_id}", changed)], None))
        self.handle_faults(self.engine.clock())
        return recorded

    # -- charger faults -----------------------------------------------------------------------------
    def handle_faults(self, now: datetime) -> int:
        """Every future reservation on a failed point moves to another point of its station, free for its window
        and as fast (`HoldMoved`); where none is, it is reported broken (`HoldBroken`): its coordinator re-books
        the trip. Either way the coordinator is told (`pending_notices`). How many were dealt with."""
        faulty = self.engine.read(lambda s: [(p.trip_id, i, r) for p, i, r in booking.faulty_holds(s, now)])
        for trip_id, index, reason in faulty:  # one at a time: each move takes a point the next may want
            self.engine.execute(partial(self._handle_fault, trip_id, index, reason, now))
        return len(faulty)

    def _handle_fault(self, trip_id: str, index: int, reason: str, now: datetime,
                      state: ServerState) -> tuple[list[StreamAppend], None]:
        part = state.participations.get(trip_id)
        if part is None or not any(p is part for p, i, _ in booking.faulty_holds(state, now) if i == index):
            return [], None  # dealt with meanwhile
        hold = part.holds[index]
        other = booking.other_point(state, self.network, hold)
        if other is not None:
            event: ev.Event = ev.HoldMoved(trip_id=trip_id, hold_index=index, point_id=other.id,
                                           power_kw=other.power_kw, from_point_id=hold.point_id, reason=reason)
        else:
            event = ev.HoldBroken(trip_id=trip_id, hold_index=index, point_id=hold.point_id, reason=reason)
        return [ev.append(hold_stream(trip_id), event)], None

    def pending_notices(self) -> list[tuple[str, NoticeIn]]:
        """(coordinator, notice) of every moved or broken stop its coordinator has not heard of yet."""
        def query(state: ServerState) -> list[tuple[str, NoticeIn]]:
            found = []
            for part in (state.participations[t] for t in state.open_holds):
                for hold in part.holds:
                    if hold.notice:
                        found.append((part.coordinator, NoticeIn.model_validate({
                            "trip_id": part.trip_id.partition("~")[0], "hold_id": part.trip_id, "stop": hold.stop,
                            "kind": hold.notice, "point_id": hold.point_id, "from_point_id": hold.moved_from,
                            "reason": hold.fault or hold.moved_reason})))
            return found

        return self.engine.read(query)

    def notice_delivered(self, notice: NoticeIn) -> None:
        """The coordinator has heard of it."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], None]:
            part = state.participations.get(notice.hold_id)
            index = next((i for i, h in enumerate(part.holds) if h.stop == notice.stop and h.notice),
                         None) if part is not None else None
            if index is None:
                return [], None
            return [ev.append(hold_stream(notice.hold_id), ev.HoldNoticeDelivered(trip_id=notice.hold_id,
                                                                                   hold_index=index))], None

        self.engine.execute(decide)

    def availability(self, station_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Each point of a station: its status, whether it is free for the window, and its bookings."""
        station = self._own_station(self.network.station, "station", station_id, "UNKNOWN_STATION")

        lo, hi = start.timestamp(), end.timestamp()

        def query(state: ServerState) -> dict[str, Any]:
            points = []
            for p in station.points:
                windows, holds = state.windows.get(p.id), state.occupancy.get(p.id, {})
                bookings = [{"trip_id": h.trip_id, "start": h.start, "end": h.end, "status": h.status,
                             "charging": h.charging}
                            for h in (holds[k] for k in (windows.overlapping(lo, hi) if windows else ()))]
                status = point_status.normalise(state.point_status.get(p.id, "AVAILABLE"))
                points.append({"point_id": p.id, "power_kw": p.power_kw, "connector": p.connector,
                               "status": status, "free": status == "AVAILABLE" and not bookings,
                               "bookings": sorted(bookings, key=lambda b: b["start"])})
            return {"station_id": station.id, "company_id": station.company_id, "city_id": station.city_id,
                    "start": start.isoformat(), "end": end.isoformat(), "points": points,
                    "free_points": sum(1 for p in points if p["free"])}

        return self.engine.read(query)

    def _own_station(self, lookup: Callable[[str], Station], what: str, ident: str, code: str) -> Station:
        """The station `lookup` finds for `ident` (a point or station id), if it is this company's."""
        try:
            station = lookup(ident)
        except KeyError:
            raise NotFound(f"unknown {what} {ident!r}", code=code) from None
        if station.company_id != self.company_id:
            raise NotFound(f"{what} {ident!r} is not ours", code=code)
        return station

    def _get(self, state: ServerState, trip_id: str, *, over: str) -> Participation:
        """The trip's live participation; a trip over here (in the log only) is a conflict coded `over`."""
        part = state.participations.get(trip_id)
        if part is not None:
            return part
        if self.engine.first(hold_stream(trip_id)) is not None:
            raise Conflict(f"trip {trip_id} is over here (released, refused or long finished)", code=over)
        raise NotFound(f"no hold for trip {trip_id!r} here", code="UNKNOWN_TRIP")
