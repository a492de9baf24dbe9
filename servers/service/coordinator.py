"""The coordinator of a trip: prepare at every company, decide, complete — all or none (planning is
`servers.service.planning`, the driver's view of trips `servers.service.trips`).

Two-phase commit with presumed abort and cooperative termination
(docs/booking.md): the decision is durable before any participant is told;
a trip with no decision is aborted when anyone asks about it or when it goes
stale; decided trips are driven to every participant until each has
acknowledged. Everything here runs on the server's event loop: decisions are
staged in the log at once (`Engine.execute`), and the waits are for peers and
for the disk.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from contract.models import CheckInIn, NoticeIn, PrepareIn, StopIn, TripIn
from events.model import StreamAppend
from servers.bookings import booking, lifecycle, money
from servers.bookings import events as ev
from servers.bookings.errors import Conflict, DomainError, Forbidden, InsufficientCredit, NotFound, Unavailable
from servers.bookings.events import BookingStatus, CanceledReason, TripStatus
from servers.bookings.state import ABORTED, CANCELLED, COMMITTED, REQUESTED, ServerState, Trip, parse_time
from servers.faults import fault
from servers.service.accounts import account_stream
from servers.service.availability import Availability
from servers.service.engine import Engine, LogUnwritable
from servers.service.peers import PeerRefused, Peers, PeerUnavailable
from servers.service.planning import TripPlanner, exclude_refused
from servers.service.rebooking import Rebooking
from servers.service.requests import Requests, answered
from servers.service.trips import TripsView, trip_stream
from servers.world.network import Network
from servers.world.planner import Plan

log = logging.getLogger(__name__)

COMMIT = "commit"
ABORT = "abort"


def stops_by_company(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """The plan's stops grouped by the company that owns each station, as prepare requests."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for index, stop in enumerate(plan.stops):
        grouped.setdefault(stop.company_id, []).append({
            "stop": index, "station_id": stop.station_id, "start": stop.window_start.isoformat(),
            "end": stop.window_end.isoformat(), "min_power_kw": stop.power_kw,
            "energy_kwh": round(stop.energy_kwh, 3)})
    return grouped


class Coordinator:
    """Books and cancels trips for the vehicles whose home company this is."""

    def __init__(self, engine: Engine, requests: Requests, network: Network, company_id: str, peers: Peers,
                 trips: TripsView, planner: TripPlanner, *, max_attempts: int = 3,
                 stale_after: timedelta = timedelta(seconds=20), max_inflight: int = 16,
                 availability: Availability | None = None,
                 complete_in_background: bool = True, priority_rule: bool = True) -> None:
        self.engine = engine
        self.requests = requests
        self.network = network
        self.terms = {c.id: c.booking_terms for c in network.companies}
        self.company_id = company_id
        self.peers = peers
        self.trips = trips
        self.planner = planner
        self.availability = availability
        self.max_attempts = max_attempts
        # Plan through points that later, undecided trips hold (participants make them yield: the priority rule).
        self.priority_rule = priority_rule
        self.stale_after = stale_after
        # Phase two need not delay the driver's answer: the decision is durable, and the recovery loop
        # finishes any delivery that this background attempt does not.
        self.complete_in_background = complete_in_background
        self._inflight: set[str] = set()  # trips being prepared: not stale, whatever their age
        self._delivering: set[str] = set()  # trips whose decision is being told right now
        self._yielded: dict[str, str] = {}  # trips being prepared that yielded a point to an earlier one
        self._background: set[asyncio.Task[Any]] = set()
        # Bookings in progress at once, first come first served: a burst is served in order (the first
        # answered first) instead of every booking of it advancing together and all finishing last; and a
        # turn of the event loop stays short, so replies, votes and the disk's answers are not kept waiting.
        # 16, not 8: twice the trips share each peer request and each write (storms of 60 and 300: 8 % to 15 %
        # more trips a second, p50 no worse; docs/benchmarks.md).
        self._admission = asyncio.Semaphore(max_inflight)
        self.rebooking = Rebooking(self)

    async def close(self) -> None:
        """Let phase two in flight finish (briefly); the recovery loop of the next start does the rest."""
        if self._background:
            await asyncio.wait(self._background, timeout=2)

    # -- planning ---------------------------------------------------------------------------------
    async def book(self, vehicle_id: str, request_id: str, trip: TripIn) -> dict[str, Any]:
        """Reserve a whole trip or nothing; the answer to a repeated request id is the first answer.

        The answer is staged in the log; the caller awaits `engine.durable()` before passing it on. The
        moment the request arrived is its priority (`asked_at`), at every attempt and every participant.
        """
        now = self.engine.clock()
        booking.check_departure(trip.departure or now, now)
        async with self.requests.claim(vehicle_id, request_id, "book") as known:
            if known is not None:
                return known
            async with self._admission:
                reply = await self._book(vehicle_id, request_id, trip, now)
            if reply["status"] != BookingStatus.RESERVED:  # a reservation was recorded with the commit decision
                reply["asked_at"] = now.isoformat()
                self.engine.execute(lambda s: ([answered(vehicle_id, request_id, "book", reply)], None))
            return reply

    async def _book(self, vehicle_id: str, request_id: str, trip: TripIn, priority: datetime) -> dict[str, Any]:
        vehicle = self.planner.vehicle_of(vehicle_id, trip)
        exclude = self.planner.exclusions(trip.avoid_stations, asked=priority if self.priority_rule else None)
        offered: list[dict[str, Any]] = []
        last: dict[str, Any] = {}
        for attempt in range(1, self.max_attempts + 1):
            try:
                plan = self.planner.plan(trip, vehicle, exclude)[0]
            except DomainError as exc:
                if attempt == 1:
                    taken = self.planner.taken_in_the_way(trip, vehicle)
                    if taken is None:  # the car cannot make this trip at all: no alternative at other times
                        return _refused(exc.code, exc.message, [], [])
                    last = taken
                break  # nothing else fits around what is taken: answer with the last refusal
            balance = self.engine.state.accounts[vehicle_id].balance_cents
            cost = sum(plan.cost_cents_by_company.values())
            if cost > balance:
                return _refused(InsufficientCredit.code,
                                f"the trip costs R$ {cost / 100:.2f} and the credit is R$ {balance / 100:.2f}",
                                [], [], cost=cost / 100)
            other = self.engine.read(partial(booking.overlapping_trip, vehicle_id=vehicle_id,
                                             departure=plan.departure, arrival=plan.arrival))
            if other is not None:
                reason, details = booking.overlap_refusal(other)
                return _refused(booking.TRIP_OVERLAPS, reason, [], [], overlaps=details)
            outcome = await self._attempt(vehicle_id, request_id, plan, priority, attempt)
            if outcome["status"] == COMMITTED:
                recorded = self.requests.answer(vehicle_id, request_id, "book")
                assert recorded is not None  # staged with the commit decision
                return recorded
            last = outcome
            offered.extend(outcome.get("alternatives", []))
            exclude = exclude_refused(exclude, plan, outcome["refusals"], self.network)
        await asyncio.sleep(0)  # the alternatives take a few planner searches: let waiting replies go first
        plans = self.planner.alternative_plans(trip, vehicle, exclude)
        return _refused(last.get("code", "NO_PLAN"), last.get("reason", "no plan fits what is free"),
                        offered, plans, **({"company": last["company"]} if "company" in last else {}))

    async def _attempt(self, vehicle_id: str, request_id: str, plan: Plan, priority: datetime,
                       attempt: int) -> dict[str, Any]:
        """One two-phase transaction for one plan."""
        trip_id = "t" + uuid.uuid4().hex[:16]
        grouped = stops_by_company(plan)
        cost_by_company = plan.cost_cents_by_company
        requested = ev.TripRequested(
            trip_id=trip_id, vehicle_id=vehicle_id, request_id=request_id, attempt=attempt,
            priority=priority.isoformat(), plan=plan.to_json(), participants=sorted(grouped),
            stops_by_company=grouped, cost_cents=sum(cost_by_company.values()), cost_by_company_cents=cost_by_company)
        self._inflight.add(trip_id)
        try:
            # Not awaited: with presumed abort a prepare may go out before the request is on disk (a
            # coordinator that forgot the trip answers "abort" to whoever asks).
            self.engine.execute(lambda s: ([ev.append(trip_stream(trip_id), requested, expected_version=0)], None))
            votes = await self._prepare_claimed(trip_id, plan, priority, grouped)
            fault("coordinator.before_decide")
            try:
                status = self.engine.execute(partial(self._decide, trip_id, votes))
                await self.engine.durable()  # the commit point: on disk before anyone hears of it
            except Exception as exc:
                await self._abandon(trip_id, grouped, f"the decision could not be recorded: {exc}")
                raise
            fault("coordinator.after_decide")
        finally:
            self._inflight.discard(trip_id)
        yielded = self._yielded.pop(trip_id, None)
        refusals = [v for v in votes.values() if isinstance(v, ev.No)]
        if status == ABORTED and not refusals:  # aborted by an outcome query (a timeout, or yielded): why
            refusals = [self._why_aborted(trip_id, votes, yielded)]
        if status == COMMITTED:
            self._learn_reserved(trip_id, votes)
        if self.complete_in_background and status == COMMITTED:
            task = asyncio.create_task(self.complete(trip_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            # An abort is delivered before the driver is answered or the trip re-planned: its holds must
            # be free by then, or the retry would collide with its own (and others') dead holds.
            await self.complete(trip_id)
        first = refusals[0] if refusals else ev.No(code="ABORTED")
        return {"trip_id": trip_id, "status": status, "refusals": refusals, "code": first.code,
                "reason": first.reason, "alternatives": [a for r in refusals for a in r.alternatives]}

    def _why_aborted(self, trip_id: str, votes: dict[str, ev.Vote], yielded: str | None) -> ev.No:
        """The abort of an attempt no participant refused, as a refusal: a yielded point is its conflict, so
        that the next attempt plans around it."""
        trip = self.engine.state.trips.get(trip_id)  # read now: an aborted trip is forgotten once delivered
        code, reason = (trip.code, trip.reason) if trip is not None else ("ABORTED", "")
        conflicts = [{"trip_id": "", "point_id": h.point_id, "start": h.start, "end": h.end}
                     for v in votes.values() if isinstance(v, ev.Yes) for h in v.holds if h.point_id == yielded]
        return ev.No(trip_id=trip_id, code=code, reason=reason, conflicts=conflicts)

    async def _prepare_claimed(self, trip_id: str, plan: Plan, priority: datetime,
                               grouped: dict[str, list[dict[str, Any]]]) -> dict[str, ev.Vote]:
        """Phase one, with the plan's stops counted as taken while it runs; what the votes say is learnt."""
        if self.availability is None:
            return await self._prepare_all(trip_id, priority, grouped)
        stations = [s.station_id for s in plan.stops]
        token = self.availability.claim([(s.station_id, s.window_start, s.window_end, s.power_kw)
                                         for s in plan.stops], priority)
        try:
            votes = await self._prepare_all(trip_id, priority, grouped)
        finally:
            self.availability.release(token, stations)
        for vote in votes.values():
            # Taken by others, maybe more recently than the mirror shows.
            for c in vote.conflicts if isinstance(vote, ev.No) else ():
                self.availability.learn(c["point_id"], parse_time(c["start"]), parse_time(c["end"]),
                                        f"{c['trip_id']}#?")
        return votes

    def _learn_reserved(self, trip_id: str, votes: dict[str, ev.Vote]) -> None:
        """A committed trip's points at other companies are taken, before their mirrors say so."""
        if self.availability is None:
            return
        for company, vote in votes.items():
            if company != self.company_id and isinstance(vote, ev.Yes):  # our own points are in our state
                for h in vote.holds:
                    self.availability.learn(h.point_id, parse_time(h.start), parse_time(h.end), f"{trip_id}#{h.stop}")

    async def _prepare_all(self, trip_id: str, priority: datetime,
                           grouped: dict[str, list[dict[str, Any]]]) -> dict[str, ev.Vote]:
        """Phase one: ask every participant at once; a silent one votes no."""
        async def ask(company: str) -> ev.Vote:
            peer = self.peers.get(company)
            if peer is None:
                return ev.No(trip_id=trip_id, code="UNKNOWN_COMPANY", reason=f"no address for company {company!r}")
            req = PrepareIn(trip_id=trip_id, coordinator=self.company_id, priority=priority,
                            stops=[StopIn(**s) for s in grouped[company]])
            try:
                return await peer.prepare(req)
            except PeerUnavailable as exc:
                return ev.No(trip_id=trip_id, code="PEER_UNAVAILABLE", company=company,
                             reason=f"{self.network.company(company).name} did not answer: {exc}")
            except PeerRefused as exc:
                return ev.No(trip_id=trip_id, code=exc.code, reason=exc.message)

        companies = list(grouped)
        votes = await asyncio.gather(*(ask(c) for c in companies))
        return dict(zip(companies, votes, strict=True))

    def _decide(self, trip_id: str, votes: dict[str, ev.Vote],
                state: ServerState) -> tuple[list[StreamAppend], TripStatus]:
        """The commit point: all yes and enough credit → commit and debit, in one append; else abort."""
        trip = state.trips.get(trip_id)
        if trip is None:  # its request was staged in a write that failed: the log never had it
            raise LogUnwritable("the event log cannot be written (the trip's request was lost); try again later")
        if trip.status != REQUESTED:  # an outcome query already aborted it
            return [], trip.status
        recorded: list[ev.Event] = [ev.TripVoteRecorded(trip_id=trip_id, company=c, vote=v)
                                    for c, v in sorted(votes.items())]
        acc = state.accounts[trip.vehicle_id]
        no = [v for v in votes.values() if isinstance(v, ev.No)]
        other = booking.overlapping_trip(state, trip.vehicle_id, parse_time(trip.plan["departure"]),
                                         parse_time(trip.plan["arrival"]))
        if other is not None:  # booked meanwhile by another request of the same car
            no.append(ev.No(trip_id=trip_id, code=booking.TRIP_OVERLAPS, reason=booking.overlap_refusal(other)[0]))
        if not no and acc.balance_cents >= trip.cost_cents:
            recorded.append(ev.TripCommitted(trip_id=trip_id))
            debit = ev.TripDebited(vehicle_id=trip.vehicle_id, trip_id=trip_id, amount_cents=trip.cost_cents)
            # The driver's answer is known now: record it with the decision (one durable write fewer).
            answer = answered(trip.vehicle_id, trip.request_id, "book",
                              self.trips.itinerary(trip, votes=votes))
            return [ev.append(trip_stream(trip_id), *recorded), ev.append(account_stream(trip.vehicle_id), debit),
                    answer], COMMITTED
        code, reason = ((no[0].code, no[0].reason) if no
                        else (InsufficientCredit.code, "not enough credit at decision time"))
        recorded.append(ev.TripAborted(trip_id=trip_id, code=code, reason=reason))
        return [ev.append(trip_stream(trip_id), *recorded)], ABORTED

    async def _abandon(self, trip_id: str, grouped: dict[str, list[dict[str, Any]]], reason: str) -> None:
        """The decision failed: abort with the real reason and free the holds now, whatever the log can do."""
        try:
            self._abort_undecided(trip_id, "DECISION_FAILED", reason)
            await self.engine.durable()
        except Exception:
            log.exception("trip %s: could not record its abort", trip_id)
        if self.engine.stale:  # the decision may have reached the log: the participants ask it once it is back
            return
        if trip_id in self.engine.state.trips:
            await self.complete(trip_id)
        else:  # the log lost the trip with the failed write: no record means abort (presumed abort)
            await asyncio.gather(*(self._tell(trip_id, ABORTED, reason, c) for c in grouped))

    async def complete(self, trip_id: str) -> bool:
        """Phase two: tell every participant not yet acknowledged (in parallel); True when all have."""
        trip = self.engine.state.trips.get(trip_id)
        if trip is None:  # an aborted attempt every participant has heard: forgotten
            return True
        if trip.status == REQUESTED:
            return False
        # The decision being delivered, read once: `trip` is the live state, and a cancel may land while
        # the participants are being told; their acks must be recorded as acks of what they were told.
        decision, reason = trip.status, trip.reason
        pending = [c for c in trip.participants if c not in trip.acked]
        if not pending:
            return True
        self._delivering.add(trip_id)
        try:
            await self.engine.durable()  # the decision is on disk before anyone hears it
            results = await asyncio.gather(*(self._tell(trip_id, decision, reason, c) for c in pending))
        finally:
            self._delivering.discard(trip_id)
        told = [c for c, ok in zip(pending, results, strict=True) if ok]
        self.engine.execute(partial(self._record_acks, trip_id, told, decision))
        return len(told) == len(pending)

    async def _tell(self, trip_id: str, decision: str, reason: str, company: str) -> bool:
        peer = self.peers.get(company)
        try:
            if peer is None:
                raise PeerUnavailable(f"no address for company {company!r}")
            if decision == COMMITTED:
                await peer.commit(trip_id)
            elif decision == ABORTED:
                await peer.abort(trip_id, reason or "aborted")
            else:  # every id the trip holds anything under there (re-bookings hold theirs under their own)
                trip = self.engine.state.trips.get(trip_id)
                for hold_id in sorted({trip_id, *(trip.hold_ids.values() if trip is not None else ())}):
                    await peer.release(hold_id, "cancelled by the driver")
        except (PeerUnavailable, PeerRefused) as exc:
            log.warning("trip %s: %s not told %s yet: %s", trip_id, company, decision, exc)
            return False
        return True

    def _record_acks(self, trip_id: str, companies: list[str], status: TripStatus,
                     state: ServerState) -> tuple[list[StreamAppend], None]:
        trip = state.trips.get(trip_id)
        if trip is None or trip.status != status:  # forgotten (all told), or cancelled since: the release
            return [], None  # must be delivered and acknowledged too
        acks = [ev.TripParticipantAcked(trip_id=trip_id, company=c, status=status)
                for c in companies if c not in trip.acked]
        return ([ev.append(trip_stream(trip_id), *acks)] if acks else []), None

    # -- termination and recovery ----------------------------------------------------------------
    def outcome(self, trip_id: str, asked_by: str | None = None, point_id: str | None = None) -> str:
        """A participant asks: commit or abort. An undecided trip (or re-booking: "{trip}~{n}") is aborted (staged)
        first — as YIELDED when the participant asks on behalf of an earlier trip that wants one of its points
        (the priority rule)."""
        code, reason = (("YIELDED", f"point {point_id} went to a request that asked earlier (trip {asked_by})")
                        if asked_by else ("TIMEOUT", "a participant asked before the decision"))
        if "~" in trip_id:
            return self.abort_undecided_amendment(trip_id, code, reason)
        outcome = self._abort_undecided(trip_id, code, reason)
        if asked_by and outcome == ABORT and point_id and trip_id in self._inflight:
            self._yielded[trip_id] = point_id  # its attempt plans the next one around that point
        return outcome

    def abort_undecided_amendment(self, amendment_id: str, code: str, reason: str) -> str:
        """Abort a re-booking still undecided; its outcome either way (forgotten once settled: presumed abort —
        every company it committed at has acknowledged, so none asks)."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], str]:
            a = state.amendments.get(amendment_id)
            if a is None:
                return [], ABORT
            if a.status is TripStatus.REQUESTED:
                return [ev.append(trip_stream(a.trip_id), ev.TripAmendAborted(
                    trip_id=a.trip_id, amendment_id=amendment_id, code=code, reason=reason))], ABORT
            return [], COMMIT if a.status is TripStatus.COMMITTED else ABORT

        return self.engine.execute(decide)

    def _abort_undecided(self, trip_id: str, code: str, reason: str) -> str:
        """Abort the trip if it is still undecided (with this code and reason); the outcome either way."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], str]:
            trip = state.trips.get(trip_id)
            if trip is None:
                return [], ABORT  # presumed abort: no record means never committed
            if trip.status == REQUESTED:
                return [ev.append(trip_stream(trip_id), ev.TripAborted(trip_id=trip_id, code=code, reason=reason))], \
                    ABORT
            return [], COMMIT if trip.status in (COMMITTED, CANCELLED) else ABORT

        return self.engine.execute(decide)

    async def resume(self, now: datetime) -> int:
        """Abort undecided trips nobody is working on; drive decided ones to every participant."""
        busy = self._inflight | self._delivering
        todo = [t.trip_id for t in self.engine.state.trips.values() if t.trip_id not in busy and _unfinished(t)]
        for trip_id in todo:
            trip = self.engine.state.trips.get(trip_id)
            stale = trip is not None and parse_time(trip.requested_at) + self.stale_after <= now
            if trip is not None and trip.status == REQUESTED and stale:
                self._abort_undecided(trip_id, "TIMEOUT", f"no decision within {self.stale_after.total_seconds():g} s "
                                      "(the coordinator restarted, or stalled, while booking)")
        await asyncio.gather(*(self.complete(t) for t in todo))
        await self.rebooking.resume(now)
        return len(todo)

    # -- charger faults ---------------------------------------------------------------------------
    def notice(self, company: str, req: NoticeIn) -> dict[str, Any]:
        """A stop's company tells us its point failed: the stop moved within the station (the driver is told), or
        it is BROKEN (the trip is re-booked from that stop, `servers.service.rebooking`). A repeat changes
        nothing; a company can only speak of its own stops."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], bool]:
            trip = state.trips.get(req.trip_id)
            if trip is None:
                raise NotFound(f"no trip {req.trip_id!r} here", code="UNKNOWN_TRIP")
            stops = trip.plan.get("stops", [])
            if not 0 <= req.stop < len(stops):
                raise NotFound(f"trip {req.trip_id} has no stop {req.stop}", code="UNKNOWN_STOP")
            if stops[req.stop]["company_id"] != company or trip.hold_id(req.stop) != req.hold_id:
                raise Forbidden(f"stop {req.stop} of trip {req.trip_id} is not held by {company} as {req.hold_id}",
                                code="NOT_YOUR_STOP")
            if trip.status is not TripStatus.COMMITTED:
                return [], False
            if req.kind == "MOVED":
                if trip.points[req.stop] == req.point_id:
                    return [], False
                moved = ev.TripStopMoved(trip_id=req.trip_id, stop=req.stop, point_id=req.point_id,
                                         from_point_id=req.from_point_id, reason=req.reason)
                return [ev.append(trip_stream(req.trip_id), moved)], False
            if str(req.stop) in trip.broken:
                return [], False
            broken = ev.TripStopBroken(trip_id=req.trip_id, stop=req.stop, point_id=req.point_id, reason=req.reason)
            return [ev.append(trip_stream(req.trip_id), broken)], True

        if self.engine.execute(decide):
            self.rebooking.soon(req.trip_id)
        return {"trip_id": req.trip_id, "stop": req.stop, "kind": req.kind}

    # -- cancel -----------------------------------------------------------------------------------
    async def cancel(self, vehicle_id: str, trip_id: str,
                     reason: CanceledReason = CanceledReason.NO_CANCELED, note: str = "") -> dict[str, Any]:
        """Cancel a reserved trip: refund by the policy and release every point, atomically. `reason` is OCPI's
        (TRAFFIC, BROKEN_VEHICLE, …), `note` the driver's own words."""
        now = self.engine.clock()

        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            trip = state.trips.get(trip_id)
            if trip is None or trip.vehicle_id != vehicle_id:
                raise NotFound(f"no trip {trip_id!r} of this vehicle", code="UNKNOWN_TRIP")
            if trip.status == CANCELLED:
                return [], self._cancelled(trip)
            if trip.status != COMMITTED:
                raise Conflict(f"trip {trip_id} is {lifecycle.trip_status(trip)}; only reserved trips can be "
                               "cancelled", code="NOT_CONFIRMED")
            stops = trip.plan.get("stops", [])
            first = parse_time(stops[0]["window_start"]) if stops else None
            if (first is not None and first <= now) or trip.checked_in:
                raise Conflict("the trip has begun; it can no longer be cancelled", code="TRIP_STARTED")
            # A trip whose charger failed and that could not be re-booked is refunded in full; otherwise stop by
            # stop, by each company's cancel-until term (servers.bookings.money).
            refund = trip.cost_cents if trip.broken else money.refund_cents(stops, now, self.terms, trip.cost_cents)
            aborts = [ev.TripAmendAborted(trip_id=trip_id, amendment_id=a.amendment_id, code="CANCELLED",
                                          reason="the trip was cancelled")
                      for a in state.amendments.values() if a.trip_id == trip_id and a.status is TripStatus.REQUESTED]
            cancelled = ev.TripCancelled(trip_id=trip_id, refund_cents=refund, reason=note or "cancelled by the driver",
                                         cancellation_reason=reason, who_canceled=ev.Role.EMSP)
            appends = [ev.append(trip_stream(trip_id), *aborts, cancelled)]
            if refund:
                appends.append(ev.append(account_stream(vehicle_id), ev.TripRefunded(
                    vehicle_id=vehicle_id, trip_id=trip_id, amount_cents=refund)))
            return appends, {"trip_id": trip_id, "status": BookingStatus.CANCELED, "refund": refund / 100,
                             "cancellation_reason": reason, "who_canceled": ev.Role.EMSP,
                             "reason": cancelled.reason}

        reply = self.engine.execute(decide)
        if self.availability is not None:
            self.availability.forget_trip(trip_id)
        await self.complete(trip_id)
        return reply

    @staticmethod
    def _cancelled(trip: Trip) -> dict[str, Any]:
        """The answer to a cancel, as it was when the trip was cancelled."""
        return {"trip_id": trip.trip_id, "status": BookingStatus.CANCELED, "refund": trip.refund_cents / 100,
                "cancellation_reason": trip.cancellation_reason or CanceledReason.NO_CANCELED,
                "who_canceled": trip.who_canceled or ev.Role.EMSP, "reason": trip.reason}

    # -- while driving ----------------------------------------------------------------------------
    async def check_in(self, vehicle_id: str, req: CheckInIn) -> dict[str, Any]:
        """Forward a vehicle's check-in to the company that owns the stop's station."""
        trip = self.trips.trip(vehicle_id, req.trip_id)
        if trip.status != COMMITTED:
            raise Conflict(f"trip {req.trip_id} is {lifecycle.trip_status(trip)}", code="NOT_CONFIRMED")
        stops = trip.plan.get("stops", [])
        if not 0 <= req.stop < len(stops):
            raise NotFound(f"trip {req.trip_id} has no stop {req.stop}", code="UNKNOWN_STOP")
        if req.stop in trip.missed:
            raise Conflict(f"stop {req.stop} was missed: its point was released (NO_SHOW)", code="NO_SHOW")
        peer = self.peers.get(stops[req.stop]["company_id"])
        try:
            if peer is None:
                raise PeerUnavailable(f"no address for company {stops[req.stop]['company_id']!r}")
            # Held there under the trip's id, or the re-booking's that reserved the stop.
            reply = await peer.check_in(req.model_copy(update={"trip_id": trip.hold_id(req.stop)}))
            reply = {**reply, "trip_id": req.trip_id}
        except PeerUnavailable as exc:
            raise Unavailable(f"the station's company did not answer: {exc}", code="PEER_UNAVAILABLE") from exc
        except PeerRefused as exc:  # the station's company's own refusal, with its status
            raise DomainError(exc.message, code=exc.code, status=exc.status) from exc

        stop = stops[req.stop]

        def decide(state: ServerState) -> tuple[list[StreamAppend], None]:
            current = state.trips.get(req.trip_id)
            if current is None:
                return [], None
            events: list[ev.Event] = []
            if req.stop not in current.checked_in:
                events.append(ev.TripStopCheckedIn(trip_id=req.trip_id, stop=req.stop))
            cdr = reply.get("cdr")
            # The station's company's record of the session, kept for the driver once (a finish may be repeated).
            if cdr and not any(c["stop"] == req.stop for c in current.charges):
                events.append(ev.TripStopCharged(
                    trip_id=req.trip_id, stop=req.stop, company_id=stop["company_id"], station_id=reply["station_id"],
                    point_id=reply["point_id"], energy_kwh=cdr["energy_kwh"], started_at=cdr["started_at"],
                    finished_at=cdr["finished_at"], charge_minutes=cdr["charge_minutes"],
                    idle_minutes=cdr["idle_minutes"], price=dict(cdr["price"])))
            return ([ev.append(trip_stream(req.trip_id), *events)] if events else []), None

        self.engine.execute(decide)
        return reply

def _unfinished(trip: Any) -> bool:
    return bool(trip.status == REQUESTED or any(c not in trip.acked for c in trip.participants))


def _refused(code: str, reason: str, points: list[dict[str, Any]], plans: list[dict[str, Any]],
             **extra: Any) -> dict[str, Any]:
    return {"status": lifecycle.refused_status(code), "code": code, "reason": reason,
            "alternatives": {"points": points, "plans": plans}, **extra}
