"""A company server's state and the fold that rebuilds it from the event log.

The same events drive both roles a server plays: as **home company** it keeps
accounts and coordinates trips (streams `account:…`, `trip:…`, `answer:…`);
as **participant** it holds and reserves its own charging points (streams
`hold:…`, `point:…`). `ServerFold` is what `python -m events state` uses
(through the log's `fold` meta key) and what the server replays at start.

The state keeps what decisions and live views read; what is over stays in the
log only (the retention rule, docs/eventlog.md): an aborted attempt once every
participant has heard the abort, a participation once released or refused,
a finished reservation `RETAIN_RESERVATIONS` after its last window, a settled
trip `RETAIN_TRIPS` after its arrival, a token once expired. "After" is in
event time (the `recorded_at` of the event being folded), so a replay forgets
exactly what the running server forgot.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

import msgspec

from events.model import RecordedEvent
from servers.bookings import events as ev
from servers.bookings.events import Charging, HoldStatus, TripStatus
from servers.bookings.windows import PointWindows
from servers.world.tariffs import PARTS

# Statuses, by their names in the log (servers.bookings.events): re-exported where the state uses them.
REQUESTED, COMMITTED, ABORTED, CANCELLED = (TripStatus.REQUESTED, TripStatus.COMMITTED, TripStatus.ABORTED,
                                            TripStatus.CANCELLED)
HELD, CONFIRMED, RELEASED = HoldStatus.HELD, HoldStatus.CONFIRMED, HoldStatus.RELEASED


# How long what is over stays in memory (event time); changing either changes the fold: bump its version.
RETAIN_RESERVATIONS = timedelta(days=7)  # a participant's charged or missed reservations, after the last window
RETAIN_TRIPS = timedelta(days=30)  # a coordinator's confirmed or cancelled trips, after their arrival


def parse_time(value: str) -> datetime:
    """Parse an ISO-8601 timestamp written by the server (always timezone-aware)."""
    return datetime.fromisoformat(value)


@dataclass
class Account:
    """A vehicle and its owner at their home company, with credit in cents."""

    vehicle_id: str
    owner: dict[str, Any]
    vehicle: dict[str, Any]
    password_hash: str
    broker_password_hash: str
    opened_at: str
    balance_cents: int = 0
    broker_generation: int = 1  # bumped when the broker login is revoked
    tokens: dict[str, str] = field(default_factory=dict)  # token hash -> expiry (ISO)
    statement: list[dict[str, Any]] = field(default_factory=list)
    trips: list[str] = field(default_factory=list)
    owed_cents: int = 0  # no-show fees the credit could not cover


@dataclass
class Trip:
    """A trip (one two-phase transaction) as its coordinator sees it.

    The votes and the stops asked of each company stay in the log (`TripRequested`,
    `TripVoteRecorded`); the state keeps the point reserved at each stop.
    """

    trip_id: str
    vehicle_id: str
    request_id: str
    plan: dict[str, Any]
    participants: list[str]
    cost_cents: int
    cost_by_company_cents: dict[str, int]
    requested_at: str
    status: TripStatus = TripStatus.REQUESTED
    asked_at: str = ""  # when the driver asked: the trip's priority (logs of before 2026-12-02 may lack it)
    points: list[str] = field(default_factory=list)  # the point held at each stop of the plan ("" until voted)
    reason: str = ""
    code: str = ""
    decided_at: str = ""
    acked: list[str] = field(default_factory=list)  # companies that applied the decision
    refund_cents: int = 0
    checked_in: list[int] = field(default_factory=list)  # stops where the vehicle has checked in: FULFILLED
    missed: list[int] = field(default_factory=list)  # stops not begun by the no-show timeout: NO_SHOW
    ended: str = ""  # FULFILLED or NO_SHOW once every stop is over (servers.bookings.lifecycle)
    cancellation_reason: str = ""  # OCPI's CanceledReason, and who canceled, once cancelled
    who_canceled: str = ""
    # Charger faults (docs/booking.md "Charger faults"); stops as strings (JSON keys):
    broken: dict[str, str] = field(default_factory=dict)  # stop -> why its point failed, until re-booked
    hold_ids: dict[str, str] = field(default_factory=dict)  # stop -> the id it is held under, when not trip_id
    amendments: int = 0  # re-bookings tried
    notices: list[dict[str, Any]] = field(default_factory=list)  # what the driver was told of them
    charges: list[dict[str, Any]] = field(default_factory=list)  # the stops' charge detail records (CDRs)
    noshow_fees: dict[str, int] = field(default_factory=dict)  # stop -> the no-show fee charged (cents, owed too)

    def hold_id(self, stop: int) -> str:
        """The id the stop is held under at its company: the trip's, or the re-booking's that reserved it."""
        return self.hold_ids.get(str(stop), self.trip_id)


@dataclass
class Amendment:
    """A re-booking of a reserved trip from one stop on: a two-phase transaction of its own."""

    amendment_id: str
    trip_id: str
    from_stop: int
    plan: dict[str, Any]
    participants: list[str]
    releases: dict[str, dict[str, list[int]]]  # company -> hold id -> old stops released at the commit
    cost_cents: int
    cost_by_company_cents: dict[str, int]
    requested_at: str
    status: TripStatus = TripStatus.REQUESTED
    code: str = ""
    reason: str = ""
    acked: list[str] = field(default_factory=list)  # "company:what" (what: commit, abort, release)

    def expected(self) -> list[str]:
        """The acknowledgements its decision needs: every new stop's company, and (commit) every release."""
        what = "commit" if self.status is TripStatus.COMMITTED else "abort"
        found = [f"{c}:{what}" for c in self.participants]
        if self.status is TripStatus.COMMITTED:
            found += [f"{c}:release" for c in self.releases]
        return found

    def settled(self) -> bool:
        return self.status is not TripStatus.REQUESTED and all(k in self.acked for k in self.expected())


@dataclass
class Hold:
    """One point held (then reserved) by a participant for one stop of a trip.

    `window` is its [start, end) parsed once (not a field: snapshots keep the ISO strings).
    """

    trip_id: str
    stop: int
    station_id: str
    point_id: str
    start: str
    end: str
    energy_kwh: float
    status: HoldStatus
    power_kw: float = 0.0
    charged_kwh: float = 0.0
    charging: Charging = Charging.NOT_YET
    fault: str = ""  # why its point failed (OCPI's CanceledReason) when it stays on it: reported broken
    notice: str = ""  # MOVED or BROKEN: the coordinator has not heard of it yet
    moved_from: str = ""  # the point it was moved from, and why (its last move)
    moved_reason: str = ""
    started_at: str = ""  # when charging began
    cdr: dict[str, Any] = field(default_factory=dict)  # once finished: its charge detail record (a finish repeated)

    @cached_property
    def window(self) -> tuple[datetime, datetime]:
        return parse_time(self.start), parse_time(self.end)

    @cached_property
    def span(self) -> tuple[float, float]:
        """`window` in epoch seconds (what the point's `PointWindows` index holds)."""
        return self.window[0].timestamp(), self.window[1].timestamp()

    @property
    def key(self) -> str:
        return self.trip_id + "#" + str(self.stop)


@dataclass
class Participation:
    """A participant's live record of one trip: who coordinates it, its holds, HELD or CONFIRMED."""

    trip_id: str
    coordinator: str
    priority: str
    deadline: str
    status: HoldStatus
    holds: list[Hold] = field(default_factory=list)

    def closed(self) -> bool:
        """Reserved, and every stop charged, missed or re-booked elsewhere: nothing more can happen to it here."""
        return self.status == CONFIRMED and all(h.charging in OVER for h in self.holds) and \
            not any(h.notice for h in self.holds)


OVER = (Charging.FINISHED, Charging.NO_SHOW, Charging.RELEASED)  # a reserved stop nothing more can happen to


@dataclass
class ServerState:
    """Everything one company server knows, rebuilt from its log."""

    seq: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)
    by_login: dict[str, str] = field(default_factory=dict)  # cpf or e-mail -> vehicle_id
    by_token: dict[str, str] = field(default_factory=dict)  # token hash -> vehicle_id
    trips: dict[str, Trip] = field(default_factory=dict)
    amendments: dict[str, Amendment] = field(default_factory=dict)  # re-bookings not yet settled
    participations: dict[str, Participation] = field(default_factory=dict)
    # point_id -> trip_id -> hold; only HELD and CONFIRMED holds occupy a point.
    occupancy: dict[str, dict[str, Hold]] = field(default_factory=dict)
    # Trips held or reserved here with a stop not yet charged or missed: what the recovery loop scans.
    open_holds: set[str] = field(default_factory=set)
    point_status: dict[str, str] = field(default_factory=dict)  # only points not AVAILABLE
    requests_refused: int = 0  # answers to drivers were refusals (the answers themselves are in the log only)
    refusals: int = 0  # prepare requests refused here, as participant
    counts: dict[str, int] = field(default_factory=dict)  # events by type
    # This company's charging figures, all time (the reservations themselves are forgotten): `new_figures`.
    figures: dict[str, Any] = field(default_factory=lambda: new_figures())
    # (when, kind, key) of what may be forgotten then; derived from the rest (rebuilt, never saved).
    expiring: list[tuple[datetime, str, str]] = field(default_factory=list, metadata={"derived": True})
    # point_id -> the windows of `occupancy` on it, sorted (derived: for "what overlaps?" by bisection).
    windows: dict[str, PointWindows] = field(default_factory=dict, metadata={"derived": True})
    # Hold key -> when its trip asked (epoch s), for holds still undecided: what the priority rule may make yield.
    yieldable: dict[str, float] = field(default_factory=dict, metadata={"derived": True})


def new_figures() -> dict[str, Any]:
    """A company's charging figures before any session: CDRs, kWh, revenue by part (cents), no-shows and fees."""
    return {"sessions": 0, "energy_kwh": 0.0, "revenue_cents": {p: 0 for p in (*PARTS, "total")},
            "noshows": 0, "noshow_fees_cents": 0}


def _settled(trip: Trip) -> bool:
    """Decided, and every participant has applied the decision."""
    return trip.status != REQUESTED and all(c in trip.acked for c in trip.participants)


def _schedule(state: ServerState, when: datetime, kind: str, key: str) -> None:
    heapq.heappush(state.expiring, (when, kind, key))


def _schedule_trip(state: ServerState, trip: Trip) -> None:
    """Forget a settled trip now (aborted: nothing was reserved) or RETAIN_TRIPS after its arrival."""
    if not _settled(trip):
        return
    if trip.status == ABORTED:
        _forget_trip(state, trip)
    else:
        _schedule(state, parse_time(trip.plan.get("arrival") or trip.requested_at) + RETAIN_TRIPS, "trip", trip.trip_id)


def _schedule_participation(state: ServerState, part: Participation) -> None:
    if part.closed():
        _schedule(state, max(h.window[1] for h in part.holds) + RETAIN_RESERVATIONS, "part", part.trip_id)


def _forget_trip(state: ServerState, trip: Trip) -> None:
    del state.trips[trip.trip_id]
    acc = state.accounts.get(trip.vehicle_id)
    if acc is not None and trip.trip_id in acc.trips:
        acc.trips.remove(trip.trip_id)  # the oldest go first: found near the front


def _expire(state: ServerState, now: datetime) -> None:
    """Forget what is due by `now`; each entry is checked again, since it may have changed since."""
    while state.expiring and state.expiring[0][0] <= now:
        _, kind, key = heapq.heappop(state.expiring)
        if kind == "trip":
            trip = state.trips.get(key)
            if trip is not None and _settled(trip):
                _forget_trip(state, trip)
        elif kind == "part":
            part = state.participations.get(key)
            if part is not None and part.closed():
                del state.participations[key]
        else:  # "token": "vehicle token-hash"
            vehicle_id, _, token = key.partition(" ")
            acc = state.accounts.get(vehicle_id)
            if acc is not None and token in acc.tokens and parse_time(acc.tokens[token]) <= now:
                del acc.tokens[token]
                state.by_token.pop(token, None)


def _occupy(state: ServerState, hold: Hold) -> None:
    state.occupancy.setdefault(hold.point_id, {})[hold.key] = hold
    state.windows.setdefault(hold.point_id, PointWindows()).add(*hold.span, hold.key)


def _undecided(state: ServerState, part: Participation) -> None:
    """The holds of an undecided participation may yield to earlier askers (those with a priority)."""
    if part.priority:
        asked = parse_time(part.priority).timestamp()
        for hold in part.holds:
            state.yieldable[hold.key] = asked


def _vacate(state: ServerState, hold: Hold) -> None:
    state.yieldable.pop(hold.key, None)
    points = state.occupancy.get(hold.point_id)
    if points is not None and points.pop(hold.key, None) is not None:
        state.windows[hold.point_id].remove(*hold.span, hold.key)
        if not points:
            del state.occupancy[hold.point_id]
            del state.windows[hold.point_id]


Handler = Callable[[ServerState, Any, RecordedEvent], None]
_HANDLERS: dict[str, Handler] = {}
E = TypeVar("E", bound=ev.Event)


def on(event_type: type[E]) -> Callable[[Callable[[ServerState, E, RecordedEvent], None]],
                                         Callable[[ServerState, E, RecordedEvent], None]]:
    """Register the function that folds one event type."""
    def register(handler: Callable[[ServerState, E, RecordedEvent], None]) -> Callable[[ServerState, E,
                                                                                          RecordedEvent], None]:
        _HANDLERS[event_type.NAME] = handler
        return handler
    return register


def _entry(event: RecordedEvent, kind: str, amount_cents: int, balance: int, **extra: Any) -> dict[str, Any]:
    return {"at": event.recorded_at.isoformat(), "kind": kind, "amount_cents": amount_cents,
            "balance_cents": balance, **extra}


def evolve(state: ServerState, event: RecordedEvent) -> ServerState:
    """Apply one event to the state (in place, for speed) and return it."""
    state.seq = event.seq
    state.counts[event.type] = state.counts.get(event.type, 0) + 1
    if state.expiring and state.expiring[0][0] <= event.recorded_at:
        _expire(state, event.recorded_at)
    handler = _HANDLERS.get(event.type)
    if handler is not None:  # a type this fold does not know (a newer server's) is counted, not applied
        handler(state, ev.parse(event), event)
    return state


# -- accounts ---------------------------------------------------------------------------------------
@on(ev.AccountOpened)
def _account_opened(state: ServerState, e: ev.AccountOpened, r: RecordedEvent) -> None:
    acc = Account(vehicle_id=e.vehicle_id, owner=msgspec.to_builtins(e.owner), vehicle=msgspec.to_builtins(e.vehicle),
                  password_hash=e.password_hash, broker_password_hash=e.broker_password_hash,
                  opened_at=r.recorded_at.isoformat())
    state.accounts[acc.vehicle_id] = acc
    state.by_login[e.owner.cpf] = acc.vehicle_id
    state.by_login[e.owner.email.lower()] = acc.vehicle_id


@on(ev.TokenIssued)
def _token_issued(state: ServerState, e: ev.TokenIssued, r: RecordedEvent) -> None:
    state.accounts[e.vehicle_id].tokens[e.token_hash] = e.expires_at
    state.by_token[e.token_hash] = e.vehicle_id
    _schedule(state, parse_time(e.expires_at), "token", e.vehicle_id + " " + e.token_hash)


@on(ev.TokenRevoked)
def _token_revoked(state: ServerState, e: ev.TokenRevoked, r: RecordedEvent) -> None:
    state.accounts[e.vehicle_id].tokens.pop(e.token_hash, None)
    state.by_token.pop(e.token_hash, None)


@on(ev.BrokerCredentialsIssued)
def _broker_credentials(state: ServerState, e: ev.BrokerCredentialsIssued, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.broker_password_hash, acc.broker_generation = e.broker_password_hash, e.generation


@on(ev.CreditAdded)
def _credit_added(state: ServerState, e: ev.CreditAdded, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.balance_cents += e.amount_cents
    acc.statement.append(_entry(r, "credit", e.amount_cents, acc.balance_cents))


@on(ev.TripDebited)
def _trip_debited(state: ServerState, e: ev.TripDebited, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.balance_cents -= e.amount_cents
    acc.statement.append(_entry(r, "debit", -e.amount_cents, acc.balance_cents, trip_id=e.trip_id))


@on(ev.TripRefunded)
def _trip_refunded(state: ServerState, e: ev.TripRefunded, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.balance_cents += e.amount_cents
    acc.statement.append(_entry(r, "refund", e.amount_cents, acc.balance_cents, trip_id=e.trip_id))


@on(ev.NoShowFeeCharged)
def _noshow_fee_charged(state: ServerState, e: ev.NoShowFeeCharged, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.balance_cents -= e.amount_cents
    acc.owed_cents += e.owed_cents
    acc.statement.append(_entry(r, "noshow_fee", -e.amount_cents, acc.balance_cents, trip_id=e.trip_id,
                                stop=e.stop, company_id=e.company_id, owed_cents=e.owed_cents))
    trip = state.trips.get(e.trip_id)
    if trip is not None:
        trip.noshow_fees[str(e.stop)] = e.amount_cents + e.owed_cents


@on(ev.OwedFeesPaid)
def _owed_fees_paid(state: ServerState, e: ev.OwedFeesPaid, r: RecordedEvent) -> None:
    acc = state.accounts[e.vehicle_id]
    acc.balance_cents -= e.amount_cents
    acc.owed_cents -= e.amount_cents
    acc.statement.append(_entry(r, "owed_paid", -e.amount_cents, acc.balance_cents, owed_cents=acc.owed_cents))


@on(ev.VehicleUpdated)
def _vehicle_updated(state: ServerState, e: ev.VehicleUpdated, r: RecordedEvent) -> None:
    state.accounts[e.vehicle_id].vehicle.update(e.changes)


# -- trips (coordinator) ----------------------------------------------------------------------------
@on(ev.TripRequested)
def _trip_requested(state: ServerState, e: ev.TripRequested, r: RecordedEvent) -> None:
    state.trips[e.trip_id] = Trip(trip_id=e.trip_id, vehicle_id=e.vehicle_id, request_id=e.request_id,
                                  plan=e.plan, participants=list(e.participants),
                                  points=[""] * len(e.plan.get("stops", [])), cost_cents=e.cost_cents,
                                  cost_by_company_cents=dict(e.cost_by_company_cents),
                                  requested_at=r.recorded_at.isoformat(), asked_at=e.priority)


@on(ev.TripVoteRecorded)
def _vote_recorded(state: ServerState, e: ev.TripVoteRecorded, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    if isinstance(e.vote, ev.Yes):
        for h in e.vote.holds:
            if 0 <= h.stop < len(trip.points):
                trip.points[h.stop] = h.point_id


@on(ev.TripCommitted)
def _trip_committed(state: ServerState, e: ev.TripCommitted, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    trip.status, trip.decided_at = TripStatus.COMMITTED, r.recorded_at.isoformat()
    if trip.vehicle_id in state.accounts:  # a driver's trips are the confirmed ones, not every attempt
        state.accounts[trip.vehicle_id].trips.append(trip.trip_id)
    _schedule_trip(state, trip)


@on(ev.TripAborted)
def _trip_aborted(state: ServerState, e: ev.TripAborted, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    trip.status, trip.decided_at = TripStatus.ABORTED, r.recorded_at.isoformat()
    trip.reason, trip.code = e.reason, e.code
    trip.acked = []
    # Nothing was reserved: keep where it went, not the plan and the points (forgotten once all are told).
    trip.plan = {"origin": trip.plan.get("origin"), "destination": trip.plan.get("destination")}
    trip.points = []
    _schedule_trip(state, trip)


@on(ev.TripCancelled)
def _trip_cancelled(state: ServerState, e: ev.TripCancelled, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    trip.status, trip.refund_cents = TripStatus.CANCELLED, e.refund_cents
    trip.reason, trip.code = e.reason, "CANCELLED"
    trip.cancellation_reason, trip.who_canceled = e.cancellation_reason, e.who_canceled
    trip.acked = []
    _schedule_trip(state, trip)


@on(ev.TripParticipantAcked)
def _participant_acked(state: ServerState, e: ev.TripParticipantAcked, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    # An ack counts for the decision it acknowledges only: a commit's ack is not a cancel's.
    if (e.status or trip.status) == trip.status and e.company not in trip.acked:
        trip.acked.append(e.company)
    _schedule_trip(state, trip)


@on(ev.TripStopCheckedIn)
def _stop_checked_in(state: ServerState, e: ev.TripStopCheckedIn, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    if e.stop not in trip.checked_in:
        trip.checked_in.append(e.stop)
    if e.stop in trip.missed:  # the station's company let it begin: it is the authority on its point
        trip.missed.remove(e.stop)


@on(ev.TripStopMissed)
def _stop_missed(state: ServerState, e: ev.TripStopMissed, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    if e.stop not in trip.missed and e.stop not in trip.checked_in:
        trip.missed.append(e.stop)


@on(ev.TripStopCharged)
def _stop_charged(state: ServerState, e: ev.TripStopCharged, r: RecordedEvent) -> None:
    cdr = {"stop": e.stop, "company_id": e.company_id, "station_id": e.station_id, "point_id": e.point_id,
           "energy_kwh": e.energy_kwh, "started_at": e.started_at, "finished_at": e.finished_at,
           "charge_minutes": e.charge_minutes, "idle_minutes": e.idle_minutes, "price": dict(e.price)}
    trip = state.trips.get(e.trip_id)
    if trip is None:
        return
    trip.charges.append(cdr)
    acc = state.accounts.get(trip.vehicle_id)
    if acc is not None:  # a record, not a movement: the trip was paid when it was booked
        acc.statement.append(_entry(r, "charge", 0, acc.balance_cents, trip_id=e.trip_id, charge=cdr))


@on(ev.TripEnded)
def _trip_ended(state: ServerState, e: ev.TripEnded, r: RecordedEvent) -> None:
    state.trips[e.trip_id].ended = e.status


def _notice(trip: Trip, r: RecordedEvent, kind: str, **what: Any) -> None:
    trip.notices.append({"at": r.recorded_at.isoformat(), "kind": kind, **what})


@on(ev.TripStopMoved)
def _stop_moved(state: ServerState, e: ev.TripStopMoved, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    if 0 <= e.stop < len(trip.points):
        trip.points[e.stop] = e.point_id
    _notice(trip, r, "MOVED", stop=e.stop, point_id=e.point_id, from_point_id=e.from_point_id, reason=e.reason)


@on(ev.TripStopBroken)
def _stop_broken(state: ServerState, e: ev.TripStopBroken, r: RecordedEvent) -> None:
    trip = state.trips[e.trip_id]
    trip.broken[str(e.stop)] = e.reason
    _notice(trip, r, "BROKEN", stop=e.stop, point_id=e.point_id, reason=e.reason)


@on(ev.TripAmendRequested)
def _amend_requested(state: ServerState, e: ev.TripAmendRequested, r: RecordedEvent) -> None:
    state.trips[e.trip_id].amendments += 1
    state.amendments[e.amendment_id] = Amendment(
        amendment_id=e.amendment_id, trip_id=e.trip_id, from_stop=e.from_stop, plan=e.plan,
        participants=list(e.participants), releases={c: dict(v) for c, v in e.releases.items()},
        cost_cents=e.cost_cents, cost_by_company_cents=dict(e.cost_by_company_cents),
        requested_at=r.recorded_at.isoformat())


@on(ev.TripAmended)
def _amended(state: ServerState, e: ev.TripAmended, r: RecordedEvent) -> None:
    a = state.amendments[e.amendment_id]
    a.status = TripStatus.COMMITTED
    trip = state.trips[a.trip_id]
    before = trip.cost_cents
    stops = a.plan.get("stops", [])
    trip.plan = a.plan
    trip.points = trip.points[:a.from_stop] + list(e.points)
    trip.points += [""] * (len(stops) - len(trip.points))
    for stop in range(a.from_stop, len(stops)):
        trip.hold_ids[str(stop)] = a.amendment_id
        trip.broken.pop(str(stop), None)
    for gone in [s for s in trip.broken if int(s) >= len(stops)]:
        del trip.broken[gone]
    trip.checked_in = [s for s in trip.checked_in if s < a.from_stop]
    trip.missed = [s for s in trip.missed if s < a.from_stop]
    trip.cost_cents, trip.cost_by_company_cents = a.cost_cents, dict(a.cost_by_company_cents)
    trip.participants = sorted(set(trip.participants) | set(a.participants))
    _notice(trip, r, "REBOOKED", stop=a.from_stop, amendment_id=a.amendment_id,
            price_difference=(a.cost_cents - before) / 100)
    _forget_amendment(state, a)


@on(ev.TripAmendAborted)
def _amend_aborted(state: ServerState, e: ev.TripAmendAborted, r: RecordedEvent) -> None:
    a = state.amendments[e.amendment_id]
    a.status, a.code, a.reason = TripStatus.ABORTED, e.code, e.reason
    trip = state.trips[a.trip_id]
    told = any(n["kind"] == "NOT_REBOOKED" and n["stop"] == a.from_stop and n["code"] == e.code
               for n in trip.notices)
    if not told and e.code != "CANCELLED":  # a retry that fails alike tells the driver nothing new
        _notice(trip, r, "NOT_REBOOKED", stop=a.from_stop, code=e.code, reason=e.reason)
    _forget_amendment(state, a)


@on(ev.TripAmendAcked)
def _amend_acked(state: ServerState, e: ev.TripAmendAcked, r: RecordedEvent) -> None:
    a = state.amendments.get(e.amendment_id)
    if a is not None and f"{e.company}:{e.what}" not in a.acked:
        a.acked.append(f"{e.company}:{e.what}")
        _forget_amendment(state, a)


def _forget_amendment(state: ServerState, a: Amendment) -> None:
    """A re-booking every company has applied is over (its events stay in the log)."""
    if a.settled():
        del state.amendments[a.amendment_id]


@on(ev.RequestAnswered)
def _request_answered(state: ServerState, e: ev.RequestAnswered, r: RecordedEvent) -> None:
    if e.reply.get("status") in ("REFUSED", "REJECTED", "FAILED"):  # REFUSED: answers of before 2026-12-02
        state.requests_refused += 1


# -- holds and reservations (participant) -----------------------------------------------------------
@on(ev.HoldsPlaced)
def _holds_placed(state: ServerState, e: ev.HoldsPlaced, r: RecordedEvent) -> None:
    part = Participation(trip_id=e.trip_id, coordinator=e.coordinator, priority=e.priority, deadline=e.deadline,
                         status=HoldStatus.HELD)
    for h in e.holds:
        hold = Hold(trip_id=e.trip_id, stop=h.stop, station_id=h.station_id, point_id=h.point_id, start=h.start,
                    end=h.end, energy_kwh=h.energy_kwh, status=HoldStatus.HELD, power_kw=h.power_kw)
        part.holds.append(hold)
        _occupy(state, hold)
    state.participations[part.trip_id] = part
    state.open_holds.add(part.trip_id)
    _undecided(state, part)


@on(ev.PrepareRefused)
def _prepare_refused(state: ServerState, e: ev.PrepareRefused, r: RecordedEvent) -> None:
    state.refusals += 1  # nothing held: the vote stays in the log, read back on a retry


@on(ev.HoldsConfirmed)
def _holds_confirmed(state: ServerState, e: ev.HoldsConfirmed, r: RecordedEvent) -> None:
    part = state.participations[e.trip_id]
    part.status = HoldStatus.CONFIRMED
    for hold in part.holds:
        hold.status = HoldStatus.CONFIRMED
        state.yieldable.pop(hold.key, None)


@on(ev.HoldsReleased)
def _holds_released(state: ServerState, e: ev.HoldsReleased, r: RecordedEvent) -> None:
    part = state.participations.pop(e.trip_id)  # over here: a retry reads the log (hold stream)
    for hold in part.holds:
        _vacate(state, hold)
    state.open_holds.discard(part.trip_id)


@on(ev.HoldDeadlineExtended)
def _deadline_extended(state: ServerState, e: ev.HoldDeadlineExtended, r: RecordedEvent) -> None:
    state.participations[e.trip_id].deadline = e.deadline


def _stop_over(state: ServerState, trip_id: str, hold_index: int, charging: Charging,
               charged_kwh: float | None = None) -> None:
    part = state.participations[trip_id]
    hold = part.holds[hold_index]
    hold.charging = charging
    if charging is Charging.CHARGING:
        return
    if charged_kwh is not None:
        hold.charged_kwh = charged_kwh
    _vacate(state, hold)
    if part.closed():
        state.open_holds.discard(part.trip_id)
        _schedule_participation(state, part)


@on(ev.ChargingStarted)
def _charging_started(state: ServerState, e: ev.ChargingStarted, r: RecordedEvent) -> None:
    state.participations[e.trip_id].holds[e.hold_index].started_at = e.started_at or r.recorded_at.isoformat()
    _stop_over(state, e.trip_id, e.hold_index, Charging.CHARGING)


@on(ev.ChargingFinished)
def _charging_finished(state: ServerState, e: ev.ChargingFinished, r: RecordedEvent) -> None:
    _stop_over(state, e.trip_id, e.hold_index, Charging.FINISHED, e.energy_kwh)
    if e.price:
        state.participations[e.trip_id].holds[e.hold_index].cdr = {
            "energy_kwh": e.energy_kwh, "started_at": e.started_at, "finished_at": e.finished_at,
            "charge_minutes": e.charge_minutes, "idle_minutes": e.idle_minutes, "price": dict(e.price)}
    figures = state.figures
    figures["sessions"] += 1
    figures["energy_kwh"] = round(figures["energy_kwh"] + e.energy_kwh, 3)
    revenue = figures["revenue_cents"]
    price = e.price or {"energy": e.cost_cents}  # a record of before 2026-12-02: its cost was the energy's
    for part in PARTS:
        revenue[part] += price.get(part, 0)
    revenue["total"] += e.cost_cents


@on(ev.NoShowRecorded)
def _no_show(state: ServerState, e: ev.NoShowRecorded, r: RecordedEvent) -> None:
    _stop_over(state, e.trip_id, e.hold_index, Charging.NO_SHOW)
    state.figures["noshows"] += 1
    state.figures["noshow_fees_cents"] += e.fee_cents


@on(ev.StopsReleased)
def _stops_released(state: ServerState, e: ev.StopsReleased, r: RecordedEvent) -> None:
    part = state.participations.get(e.trip_id)
    for i, hold in enumerate(part.holds if part is not None else ()):
        if hold.stop in e.stops and hold.charging is Charging.NOT_YET:
            _stop_over(state, e.trip_id, i, Charging.RELEASED)


@on(ev.HoldMoved)
def _hold_moved(state: ServerState, e: ev.HoldMoved, r: RecordedEvent) -> None:
    hold = state.participations[e.trip_id].holds[e.hold_index]
    _vacate(state, hold)
    hold.point_id, hold.power_kw, hold.notice = e.point_id, e.power_kw, "MOVED"
    hold.moved_from, hold.moved_reason = e.from_point_id, e.reason
    _occupy(state, hold)


@on(ev.HoldBroken)
def _hold_broken(state: ServerState, e: ev.HoldBroken, r: RecordedEvent) -> None:
    hold = state.participations[e.trip_id].holds[e.hold_index]
    hold.notice, hold.fault = "BROKEN", e.reason


@on(ev.HoldNoticeDelivered)
def _notice_delivered(state: ServerState, e: ev.HoldNoticeDelivered, r: RecordedEvent) -> None:
    part = state.participations.get(e.trip_id)
    if part is None:
        return
    part.holds[e.hold_index].notice = ""
    if part.closed():
        state.open_holds.discard(part.trip_id)
        _schedule_participation(state, part)


@on(ev.PointStatusChanged)
def _point_status(state: ServerState, e: ev.PointStatusChanged, r: RecordedEvent) -> None:
    if e.status == "AVAILABLE":
        state.point_status.pop(e.point_id, None)
    else:
        state.point_status[e.point_id] = e.status


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.metadata.get("derived")}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, set):
        return sorted(value)
    return value


class ServerFold:
    """The fold of a company server's log (the `Fold` protocol of `events.model`)."""

    # The name logs (meta `fold`) and snapshot keys store: this package was `servers.domain`, and
    # `servers/domain/state.py` keeps the name importable. Never change it: snapshots are keyed by it.
    name = "servers.domain.state:FOLD"
    # 2: the retention rule (what the state forgets); 3: trips keep asked_at, missed stops, ends; 4: charge detail
    # records, no-show fees, a company's charging figures
    version = 4

    def initial(self) -> ServerState:
        return ServerState()

    def evolve(self, state: ServerState, event: RecordedEvent) -> ServerState:
        return evolve(state, event)

    def to_json(self, state: ServerState) -> Any:
        return _to_json(state)

    def from_json(self, data: Any) -> ServerState:
        state = ServerState(seq=data["seq"], by_login=dict(data["by_login"]), by_token=dict(data["by_token"]),
                            point_status=dict(data["point_status"]),
                            requests_refused=data["requests_refused"],
                            refusals=data["refusals"], counts=dict(data["counts"]),
                            figures=data.get("figures") or new_figures())
        state.accounts = {k: Account(**v) for k, v in data["accounts"].items()}
        state.trips = {k: Trip(**{**v, "status": TripStatus(v["status"])}) for k, v in data["trips"].items()}
        state.amendments = {k: Amendment(**{**v, "status": TripStatus(v["status"])})
                            for k, v in data.get("amendments", {}).items()}
        for k, v in data["participations"].items():
            holds = [Hold(**{**h, "status": HoldStatus(h["status"]), "charging": Charging(h["charging"])})
                     for h in v["holds"]]
            part = Participation(**{**v, "holds": holds, "status": HoldStatus(v["status"])})
            state.participations[k] = part
            for hold in holds:
                if hold.charging not in OVER:
                    _occupy(state, hold)
                if hold.charging not in OVER or hold.notice:
                    state.open_holds.add(part.trip_id)
            if part.status == HELD:
                _undecided(state, part)
            _schedule_participation(state, part)
        for trip in list(state.trips.values()):
            _schedule_trip(state, trip)  # a saved state holds no aborted trip that is settled
        for acc in state.accounts.values():
            for token, expires in acc.tokens.items():
                _schedule(state, parse_time(expires), "token", acc.vehicle_id + " " + token)
        return state


FOLD = ServerFold()
