"""The invariants of DESIGN.md, checked from the companies' event logs alone.

    no two held or reserved holds ever overlap on one point;
    every trip is confirmed at every company on it, or at none;
    credit is debited exactly once for a confirmed trip and never otherwise;
    a refund is never above what was paid;
    a booking's life is consistent: a stop recorded NO_SHOW never began charging at its company, a trip
    ends only once every stop is over, FULFILLED when one at least was charged at, NO_SHOW when none was;
    a re-booking (an amendment, "{trip}~{n}") is all or none like a trip, its price difference debited or
    refunded once; no reservation is left on a failed point once re-booking has settled (moved, or its
    trip's coordinator told it is broken);
    money by the companies' terms: a no-show fee at most once per stop, and only for a stop recorded NO_SHOW (and
    what is owed of it paid at most once); a
    charge detail record only for a stop that was reserved (its hold confirmed at its company), at most one per
    stop — at the station's company and in the driver's copy at the home company.

`check(logs)` replays every company's events and returns each violation with
the events that break it. With `converged=True` it also demands that every
decision has reached every participant (use it after recovery has settled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from events.model import RecordedEvent
from servers.bookings import events as ev

EventRef = tuple[str, int]  # (company, seq)


@dataclass(frozen=True)
class Violation:
    """One broken invariant and the events that show it."""

    invariant: str
    message: str
    events: tuple[EventRef, ...] = ()

    def __str__(self) -> str:
        refs = ", ".join(f"{c}#{s}" for c, s in self.events)
        return f"[{self.invariant}] {self.message}" + (f" (events {refs})" if refs else "")


@dataclass
class _Trip:
    coordinator: str
    participants: list[str]
    cost_cents: int
    requested: EventRef
    decision: str = ""
    decided: EventRef | None = None
    cancelled: bool = False
    debits: list[tuple[int, EventRef]] = field(default_factory=list)
    refunds: list[tuple[int, EventRef]] = field(default_factory=list)
    stop_company: dict[int, str] = field(default_factory=dict)  # stop -> the company that owns its station
    checked_in: set[int] = field(default_factory=set)
    missed: dict[int, EventRef] = field(default_factory=dict)
    ended: tuple[str, EventRef] | None = None
    parent: str | None = None  # an amendment's trip
    from_stop: int = 0
    delta: int = 0  # an amendment's price difference (known once committed)
    current_cost: int = 0  # a trip's cost after its re-bookings
    fees: dict[int, list[EventRef]] = field(default_factory=dict)  # stop -> its no-show fees
    charged: dict[int, list[EventRef]] = field(default_factory=dict)  # stop -> its charge records (driver's copy)


def _family(key: str) -> str:
    """The trip a hold key ("{trip}#{stop}") or id belongs to; a re-booking's ("{trip}~{n}") is its trip's."""
    return key.partition("#")[0].partition("~")[0]


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check(logs: Mapping[str, Iterable[RecordedEvent]], *, converged: bool = False) -> list[Violation]:
    """Every invariant violated by these logs (company id -> its events in order)."""
    violations: list[Violation] = []
    trips: dict[str, _Trip] = {}
    # participant state: (company, trip) -> last status and the events that set it
    held: dict[tuple[str, str], tuple[str, EventRef]] = {}
    started: dict[tuple[str, str], set[int]] = {}  # (company, trip) -> stops where charging began there
    records: dict[tuple[str, str, int], EventRef] = {}  # (company, trip, hold index) -> its charge record
    owed: dict[str, int] = {}  # vehicle -> no-show fees it owes (its home company's log)
    coordinators: dict[str, str] = {}  # trip (or re-booking) held anywhere -> its coordinator
    for company, events in logs.items():
        active: dict[str, dict[str, tuple[datetime, datetime, EventRef]]] = {}  # point -> key -> window
        hold_points: dict[str, list[tuple[str, str]]] = {}  # trip -> [(point, key)], by hold index
        hold_stops: dict[str, list[int]] = {}  # trip -> the stop of each of its holds here
        failed: dict[str, datetime] = {}  # point -> since when it is out of service (a fault status)
        settled: set[str] = set()  # keys of holds begun, or reported broken to their coordinator
        for e in events:
            ref = (company, e.seq)
            d = e.data
            if e.type == ev.HoldsPlaced.NAME:
                keys = []
                for h in d["holds"]:
                    window = (datetime.fromisoformat(h["start"]), datetime.fromisoformat(h["end"]))
                    for other_key, (s, en, other_ref) in active.get(h["point_id"], {}).items():
                        # A re-booking may hold its own trip's point until its old stop is released.
                        if _overlap(window, (s, en)) and _family(other_key) != _family(d["trip_id"]):
                            violations.append(Violation(
                                "no-overlap", f"point {h['point_id']} held for trip {d['trip_id']} over "
                                f"{h['start']}–{h['end']} while {other_key} holds it", (other_ref, ref)))
                    key = f"{d['trip_id']}#{h['stop']}"
                    active.setdefault(h["point_id"], {})[key] = (*window, ref)
                    keys.append((h["point_id"], key))
                hold_points[d["trip_id"]] = keys
                hold_stops[d["trip_id"]] = [h["stop"] for h in d["holds"]]
                held[(company, d["trip_id"])] = ("HELD", ref)
                coordinators[d["trip_id"]] = d["coordinator"]
            elif e.type == ev.HoldMoved.NAME:
                point, key = hold_points[d["trip_id"]][d["hold_index"]]
                moved = active.get(point, {}).pop(key, None)
                if moved is not None:
                    for other_key, (s, en, other_ref) in active.get(d["point_id"], {}).items():
                        if _overlap((moved[0], moved[1]), (s, en)):
                            violations.append(Violation(
                                "no-overlap", f"point {d['point_id']} given to {key} (moved from {point}) while "
                                f"{other_key} holds it", (other_ref, ref)))
                    active.setdefault(d["point_id"], {})[key] = (moved[0], moved[1], ref)
                hold_points[d["trip_id"]][d["hold_index"]] = (d["point_id"], key)
            elif e.type == ev.HoldBroken.NAME:
                settled.add(hold_points[d["trip_id"]][d["hold_index"]][1])
            elif e.type == ev.StopsReleased.NAME:
                for (point, key), stop in zip(hold_points.get(d["trip_id"], []), hold_stops.get(d["trip_id"], []),
                                              strict=True):
                    if stop in d["stops"]:
                        active.get(point, {}).pop(key, None)
            elif e.type == ev.PointStatusChanged.NAME:
                if d["status"] in ev.FAULTS:
                    failed.setdefault(d["point_id"], e.recorded_at)
                else:
                    failed.pop(d["point_id"], None)
            elif e.type == ev.HoldsConfirmed.NAME:
                held[(company, d["trip_id"])] = ("CONFIRMED", ref)
            elif e.type == ev.HoldsReleased.NAME:
                previous = held.get((company, d["trip_id"]), ("", ref))[0]
                held[(company, d["trip_id"])] = ("RELEASED_AFTER_CONFIRM" if previous == "CONFIRMED"
                                                 else "RELEASED", ref)
                for point, key in hold_points.get(d["trip_id"], []):
                    active.get(point, {}).pop(key, None)
            elif e.type == ev.ChargingStarted.NAME:
                stops = hold_stops.get(d["trip_id"], [])
                if 0 <= d["hold_index"] < len(stops):
                    started.setdefault((company, d["trip_id"]), set()).add(stops[d["hold_index"]])
                    settled.add(hold_points[d["trip_id"]][d["hold_index"]][1])
            elif e.type in (ev.ChargingFinished.NAME, ev.NoShowRecorded.NAME):
                if e.type == ev.ChargingFinished.NAME:
                    status = held.get((company, d["trip_id"]), ("", ref))[0]
                    cdr = (company, d["trip_id"], d["hold_index"])
                    if status != "CONFIRMED":
                        violations.append(Violation("cdr-reserved", f"a charge record at {company} for trip "
                                                    f"{d['trip_id']} whose hold there is {status or 'unknown'}",
                                                    (ref,)))
                    if cdr in records:
                        violations.append(Violation("cdr-reserved", f"hold {d['hold_index']} of trip "
                                                    f"{d['trip_id']} at {company} has two charge records",
                                                    (records[cdr], ref)))
                    records[cdr] = ref
                for point, key in hold_points.get(d["trip_id"], []):
                    if point == d["point_id"]:
                        active.get(point, {}).pop(key, None)
            elif e.type == ev.TripRequested.NAME:
                trips[d["trip_id"]] = _Trip(company, list(d["participants"]), d["cost_cents"], ref, stop_company={
                    s["stop"]: c for c, stops in d["stops_by_company"].items() for s in stops},
                    current_cost=d["cost_cents"])
            elif e.type == ev.TripAmendRequested.NAME:
                trips[d["amendment_id"]] = _Trip(company, list(d["participants"]), d["cost_cents"], ref, stop_company={
                    s["stop"]: c for c, stops in d["stops_by_company"].items() for s in stops},
                    parent=d["trip_id"], from_stop=d["from_stop"])
            elif e.type in (ev.TripAmended.NAME, ev.TripAmendAborted.NAME):
                amendment, trip = trips[d["amendment_id"]], trips[d["trip_id"]]
                if amendment.decision:
                    violations.append(Violation("one-decision", f"re-booking {d['amendment_id']} decided twice",
                                                (amendment.decided or ref, ref)))
                amendment.decided = ref
                amendment.decision = "commit" if e.type == ev.TripAmended.NAME else "abort"
                if amendment.decision == "commit":
                    amendment.delta, trip.current_cost = amendment.cost_cents - trip.current_cost, amendment.cost_cents
                    trip.stop_company = {s: c for s, c in trip.stop_company.items() if s < amendment.from_stop}
                    trip.stop_company.update(amendment.stop_company)
                    trip.checked_in = {s for s in trip.checked_in if s < amendment.from_stop}
                    trip.missed = {s: r for s, r in trip.missed.items() if s < amendment.from_stop}
            elif e.type == ev.TripStopCheckedIn.NAME:
                trips[d["trip_id"]].checked_in.add(d["stop"])
            elif e.type == ev.TripStopMissed.NAME:
                trips[d["trip_id"]].missed[d["stop"]] = ref
            elif e.type == ev.NoShowFeeCharged.NAME:
                trips[d["trip_id"]].fees.setdefault(d["stop"], []).append(ref)
                owed[d["vehicle_id"]] = owed.get(d["vehicle_id"], 0) + d.get("owed_cents", 0)
                if d["amount_cents"] < 0 or d.get("owed_cents", 0) < 0:
                    violations.append(Violation("noshow-fee-once", f"trip {d['trip_id']} stop {d['stop']}: a "
                                                "negative no-show fee", (ref,)))
            elif e.type == ev.OwedFeesPaid.NAME:
                owed[d["vehicle_id"]] = owed.get(d["vehicle_id"], 0) - d["amount_cents"]
                if owed[d["vehicle_id"]] < 0 or d["amount_cents"] <= 0:
                    violations.append(Violation("noshow-fee-once", f"vehicle {d['vehicle_id']} paid "
                                                f"{d['amount_cents']} of no-show fees it did not owe", (ref,)))
            elif e.type == ev.TripStopCharged.NAME:
                trips[d["trip_id"]].charged.setdefault(d["stop"], []).append(ref)
            elif e.type == ev.TripEnded.NAME:
                trips[d["trip_id"]].ended = (d["status"], ref)
            elif e.type in (ev.TripCommitted.NAME, ev.TripAborted.NAME):
                trip = trips[d["trip_id"]]
                if trip.decision:
                    violations.append(Violation("one-decision", f"trip {d['trip_id']} decided twice",
                                                (trip.decided or ref, ref)))
                trip.decision, trip.decided = ("commit" if e.type == ev.TripCommitted.NAME else "abort"), ref
            elif e.type == ev.TripCancelled.NAME:
                trips[d["trip_id"]].cancelled = True
            elif e.type == ev.TripDebited.NAME:
                trips[d["trip_id"]].debits.append((d["amount_cents"], ref))
            elif e.type == ev.TripRefunded.NAME:
                trips[d["trip_id"]].refunds.append((d["amount_cents"], ref))
        if converged:
            for point, since in failed.items():
                for key, (_, end, hold_ref) in active.get(point, {}).items():
                    if end > since and key not in settled:
                        violations.append(Violation("fault-rebooked", f"{key} is still reserved on {point}, out of "
                                                    f"service since {since:%Y-%m-%d %H:%M}, and its trip's "
                                                    "coordinator was not told", (hold_ref,)))
    for trip_id, trip in trips.items():
        if trip.parent is not None:
            trip.cancelled = trips[trip.parent].cancelled
            violations.extend(_check_amendment(trip_id, trip, held, converged))
            continue
        violations.extend(_check_trip(trip_id, trip, held, converged))
        violations.extend(_check_life(trip_id, trip, started, converged))
        violations.extend(_check_fees_and_records(trip_id, trip, held))
    if converged:
        # Presumed abort: a coordinator that died before its request record reached the disk has no record of
        # the trip, and the holds it asked for must still be let go.
        for (company, trip_id), (status, ref) in held.items():
            if status == "HELD" and trip_id not in trips and coordinators[trip_id] in logs:
                violations.append(Violation("all-or-none", f"{company} still holds points for trip {trip_id}, of "
                                            f"which its coordinator {coordinators[trip_id]} has no record", (ref,)))
    return violations


def _check_fees_and_records(trip_id: str, trip: _Trip,
                            held: Mapping[tuple[str, str], tuple[str, EventRef]]) -> list[Violation]:
    """A no-show fee once per stop recorded NO_SHOW; a charge record once per stop of a reserved trip."""
    found: list[Violation] = []
    for stop, refs in trip.fees.items():
        if len(refs) > 1:
            found.append(Violation("noshow-fee-once", f"stop {stop} of trip {trip_id} was charged the no-show fee "
                                   f"{len(refs)}×", tuple(refs)))
        if stop not in trip.missed:
            found.append(Violation("noshow-fee-once", f"stop {stop} of trip {trip_id} was charged a no-show fee "
                                   "but is not recorded NO_SHOW", tuple(refs)))
    for stop, refs in trip.charged.items():
        if len(refs) > 1:
            found.append(Violation("cdr-reserved", f"stop {stop} of trip {trip_id} has {len(refs)} charge records",
                                   tuple(refs)))
        company = trip.stop_company.get(stop)
        if trip.decision != "commit" or company is None:
            found.append(Violation("cdr-reserved", f"a charge record for stop {stop} of trip {trip_id}, which was "
                                   "never reserved", tuple(refs)))
    return found


def _check_amendment(amendment_id: str, a: _Trip, held: Mapping[tuple[str, str], tuple[str, EventRef]],
                     converged: bool) -> list[Violation]:
    """A re-booking: all or none at its new stops' companies, like a trip; its price difference paid once."""
    found = [v for v in _check_trip(amendment_id, a, held, converged) if v.invariant == "all-or-none"]
    net = sum(x for x, _ in a.debits) - sum(x for x, _ in a.refunds)
    refs = tuple(r for _, r in (*a.debits, *a.refunds))
    if a.decision == "commit" and (net != a.delta or len(refs) > 1):
        found.append(Violation("debit-once", f"re-booking {amendment_id} changed the price by {a.delta} but moved "
                               f"{net} in {len(refs)} entries", refs))
    elif a.decision != "commit" and refs:
        found.append(Violation("debit-once", f"re-booking {amendment_id} ({a.decision or 'undecided'}) moved money",
                               refs))
    return found


def _check_life(trip_id: str, trip: _Trip, started: Mapping[tuple[str, str], set[int]],
                converged: bool) -> list[Violation]:
    found: list[Violation] = []
    for stop, ref in trip.missed.items():
        company = trip.stop_company.get(stop, "")
        if converged and stop in started.get((company, trip_id), set()) and stop not in trip.checked_in:
            found.append(Violation("lifecycle", f"stop {stop} of trip {trip_id} was recorded NO_SHOW but began "
                                   f"charging at {company}", (ref,)))
    if trip.ended is not None:
        status, ref = trip.ended
        over = trip.checked_in | set(trip.missed)
        if len(over) < len(trip.stop_company):
            found.append(Violation("lifecycle", f"trip {trip_id} ended {status} with stops "
                                   f"{sorted(set(trip.stop_company) - over)} not over", (ref,)))
        if trip.stop_company and status != ("FULFILLED" if trip.checked_in else "NO_SHOW"):
            found.append(Violation("lifecycle", f"trip {trip_id} ended {status} with {len(trip.checked_in)} of "
                                   f"{len(trip.stop_company)} stops charged at", (ref,)))
    return found


def _check_trip(trip_id: str, trip: _Trip, held: Mapping[tuple[str, str], tuple[str, EventRef]],
                converged: bool) -> list[Violation]:
    found: list[Violation] = []
    statuses = {c: held.get((c, trip_id)) for c in trip.participants}
    confirmed = {c: s[1] for c, s in statuses.items() if s and s[0] in ("CONFIRMED", "RELEASED_AFTER_CONFIRM")}
    if trip.decision != "commit" and confirmed:
        found.append(Violation("all-or-none", f"trip {trip_id} was not committed ({trip.decision or 'undecided'}) "
                               f"but {', '.join(sorted(confirmed))} confirmed it",
                               (trip.requested, *confirmed.values())))
    if trip.decision == "commit":
        if len(trip.debits) != 1 or trip.debits[0][0] != trip.cost_cents:
            found.append(Violation("debit-once", f"committed trip {trip_id} (cost {trip.cost_cents}) has debits "
                                   f"{[a for a, _ in trip.debits]}", tuple(r for _, r in trip.debits)))
        if converged and not trip.cancelled:
            missing = sorted(c for c in trip.participants if c not in confirmed)
            if missing:
                found.append(Violation("all-or-none", f"committed trip {trip_id} is not confirmed at "
                                       f"{', '.join(missing)}", (trip.decided or trip.requested,)))
    elif trip.debits:
        found.append(Violation("debit-once", f"trip {trip_id} ({trip.decision or 'undecided'}) was debited",
                               tuple(r for _, r in trip.debits)))
    paid = sum(a for a, _ in trip.debits) + trip.current_cost - trip.cost_cents  # re-bookings' differences too
    refunded = sum(a for a, _ in trip.refunds)
    if refunded > paid:
        found.append(Violation("refund-at-most-paid", f"trip {trip_id} refunded {refunded} of {paid} paid",
                               tuple(r for _, r in trip.refunds)))
    if trip.refunds and (not trip.cancelled or len(trip.refunds) > 1):
        found.append(Violation("debit-once", f"trip {trip_id} refunded {len(trip.refunds)}× "
                               f"(cancelled: {trip.cancelled})", tuple(r for _, r in trip.refunds)))
    if converged and trip.cancelled:
        reserved = {c: s[1] for c, s in statuses.items() if s and s[0] in ("HELD", "CONFIRMED")}
        if reserved:
            found.append(Violation("all-or-none", f"cancelled trip {trip_id} is still reserved at "
                                   f"{', '.join(sorted(reserved))}", (trip.requested, *reserved.values())))
    if converged and trip.decision != "commit":
        still = sorted(c for c, s in statuses.items() if s and s[0] == "HELD")
        if still:
            found.append(Violation("all-or-none", f"trip {trip_id} ({trip.decision or 'undecided'}) still holds "
                                   f"points at {', '.join(still)}", (trip.requested,)))
    return found
