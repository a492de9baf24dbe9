"""Pure booking decisions: which point a stop gets, and why a stop is refused.

No I/O here: functions read a `ServerState` and the network and return what
to do; the service layer turns that into events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from servers.bookings.errors import DomainError
from servers.bookings.events import FAULTS, HoldData
from servers.bookings.state import COMMITTED, CONFIRMED, HELD, Hold, Participation, ServerState, Trip, parse_time
from servers.world.network import Network, Point, Station

# Stable refusal codes: a coordinator's, then a participant's at prepare.
TRIP_OVERLAPS = "TRIP_OVERLAPS"
POINT_TAKEN = "POINT_TAKEN"
UNKNOWN_STATION = "UNKNOWN_STATION"
NOT_OUR_STATION = "NOT_OUR_STATION"
BAD_WINDOW = "BAD_WINDOW"


# A departure "now" may reach the server a little late; one further back is in the past.
DEPARTURE_GRACE = timedelta(minutes=5)
# How far ahead a trip may be planned and booked (the planner's clock arithmetic also stays in range).
DEPARTURE_HORIZON = timedelta(days=365)


class BadDeparture(DomainError):
    """A departure the network will not plan: in the past, or beyond the booking horizon."""

    status = 422


def check_departure(departure: datetime, now: datetime) -> None:
    """Refuse a departure before `now` (less a few minutes' grace) or more than a year after it."""
    if departure < now - DEPARTURE_GRACE:
        raise BadDeparture(f"the departure {departure:%Y-%m-%d %H:%M} UTC is in the past (now {now:%Y-%m-%d %H:%M}"
                           " UTC)", code="DEPARTURE_IN_PAST", details={"now": now.isoformat()})
    if departure > now + DEPARTURE_HORIZON:
        raise BadDeparture(f"the departure is more than {DEPARTURE_HORIZON.days} days ahead; trips are booked "
                           "up to a year in advance", code="DEPARTURE_TOO_FAR", details={"now": now.isoformat()})


@dataclass(frozen=True)
class StopRequest:
    """One stop a coordinator asks a participant to hold."""

    stop: int
    station_id: str
    start: datetime
    end: datetime
    min_power_kw: float
    energy_kwh: float


@dataclass(frozen=True)
class Refusal:
    """A participant's no vote: the stop it could not hold, why, and what is free instead."""

    code: str
    reason: str
    stop: int
    station_id: str
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Wound:
    """A stop an earlier request may still have: the later, undecided holds in its way on one point.

    The statement's priority rule (wound-wait): when two trips want the same point, the one that asked
    first keeps priority; a later trip that holds the point but is not decided yet yields — its
    coordinator is asked for the outcome (which aborts an undecided trip) and its hold is released.
    """

    stop: int
    point_id: str
    victims: tuple[tuple[str, str], ...]  # (trip, its coordinator)


Instant = TypeVar("Instant", datetime, float)


def overlaps(a_start: Instant, a_end: Instant, b_start: Instant, b_end: Instant) -> bool:
    """Half-open windows [start, end) overlap (times, or epoch seconds)."""
    return a_start < b_end and b_start < a_end


def point_conflicts(state: ServerState, point_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The holds and reservations on `point_id` that overlap [start, end)."""
    windows = state.windows.get(point_id)
    if windows is None:
        return []
    found = []
    holds = state.occupancy[point_id]
    for key in windows.overlapping(start.timestamp(), end.timestamp()):
        hold = holds[key]
        part = state.participations.get(hold.trip_id)
        found.append({"trip_id": hold.trip_id, "point_id": point_id, "start": hold.start,
                      "end": hold.end, "status": hold.status,
                      "priority": part.priority if part else ""})
    return found


def family(trip_id: str) -> str:
    """The trip an id belongs to: itself, or the trip a re-booking ("{trip}~{n}") re-books."""
    return trip_id.partition("~")[0]


def is_free(state: ServerState, point: Point, start: datetime, end: datetime, mine: str | None = None) -> bool:
    """In service and with no overlapping hold or reservation — but those of trip `mine` (a re-booking may
    take its own trip's points: the old stops are released once it commits)."""
    if state.point_status.get(point.id, "AVAILABLE") != "AVAILABLE":
        return False
    windows = state.windows.get(point.id)
    if windows is None or not windows.any_overlapping(start.timestamp(), end.timestamp()):
        return True
    return mine is not None and all(family(k.partition("#")[0]) == mine
                                    for k in windows.overlapping(start.timestamp(), end.timestamp()))


def free_points(state: ServerState, station: Station, start: datetime, end: datetime,
                mine: str | None = None) -> list[Point]:
    """The points of `station` free for the whole window (holds of trip `mine` count as free)."""
    return [p for p in station.points if is_free(state, p, start, end, mine)]


def choose_point(candidates: list[Point], min_power_kw: float) -> Point | None:
    """The slowest point that is fast enough, so faster points stay free for those who need them."""
    fast_enough = [p for p in candidates if p.power_kw >= min_power_kw]
    if not fast_enough:
        return None
    return min(fast_enough, key=lambda p: (p.power_kw, p.id))


def faulty_holds(state: ServerState, now: datetime) -> list[tuple[Participation, int, str]]:
    """(participation, hold index, reason) of every reservation not begun, its window not over, on a point that
    failed (an operator status of `events.FAULTS`) and not yet dealt with (moved, or its coordinator told)."""
    found = []
    for point_id, status in state.point_status.items():
        reason = FAULTS.get(status)
        if reason is None:
            continue
        for hold in list(state.occupancy.get(point_id, {}).values()):
            part = state.participations.get(hold.trip_id)
            if part is None or hold.status is not CONFIRMED or hold.charging or hold.fault:
                continue  # undecided holds are dealt with once confirmed; begun ones stay where they are
            if hold.window[1] > now:
                found.append((part, part.holds.index(hold), reason))
    return found


def other_point(state: ServerState, network: Network, hold: Hold) -> Point | None:
    """Another point of the hold's station, in service, free for its window and at least as fast."""
    station = network.station(hold.station_id)
    start, end = hold.window
    return choose_point([p for p in free_points(state, station, start, end) if p.id != hold.point_id],
                        hold.power_kw)


def alternatives_for(state: ServerState, network: Network, company_id: str, req: StopRequest,
                     limit: int = 6) -> list[dict[str, Any]]:
    """Free points of this company in the same window: the same station first, then nearest cities."""
    here = network.station(req.station_id)
    origin = network.city(here.city_id)

    def distance(station: Station) -> float:
        city = network.city(station.city_id)
        return float((city.lat - origin.lat) ** 2 + (city.lon - origin.lon) ** 2)

    found: list[dict[str, Any]] = []
    for station in sorted(network.stations_of(company_id), key=lambda s: (s.id != here.id, distance(s))):
        for point in free_points(state, station, req.start, req.end):
            found.append({"station_id": station.id, "city_id": station.city_id, "point_id": point.id,
                          "power_kw": point.power_kw, "connector": point.connector})
            if len(found) >= limit:
                return found
    return found


def _precedes(a: tuple[datetime, str], priority: str, trip_id: str) -> bool:
    """`a` (priority, trip) asked before the trip of `priority` and `trip_id` (the trip id breaks a tie).

    A hold without a priority (none was sent) is never preceded: it is not asked to yield.
    """
    return bool(priority) and a < (parse_time(priority), trip_id)


def yielding_point(state: ServerState, station: Station, req: StopRequest, asker: tuple[datetime, str],
                   taken_here: list[tuple[str, datetime, datetime]]) -> Wound | None:
    """A point fast enough whose every overlapping hold is undecided and of a trip that asked after `asker`.

    Of those, the one with the fewest such holds (then the slowest): what wounding costs least.
    """
    best: tuple[int, float, str, tuple[tuple[str, str], ...]] | None = None
    for point in station.points:
        if point.power_kw < req.min_power_kw or state.point_status.get(point.id, "AVAILABLE") != "AVAILABLE":
            continue
        if any(pid == point.id and overlaps(req.start, req.end, s, e) for pid, s, e in taken_here):
            continue
        windows = state.windows.get(point.id)
        if windows is None:
            continue
        victims = set()
        for key in windows.overlapping(req.start.timestamp(), req.end.timestamp()):
            hold = state.occupancy[point.id][key]
            part = state.participations.get(hold.trip_id)
            if part is None or hold.status != HELD or not _precedes(asker, part.priority, part.trip_id):
                break
            victims.add((part.trip_id, part.coordinator))
        else:
            candidate = (len(victims), point.power_kw, point.id, tuple(sorted(victims)))
            if victims and (best is None or candidate < best):
                best = candidate
    return Wound(req.stop, best[2], best[3]) if best is not None else None


def decide_prepare(state: ServerState, network: Network, company_id: str, stops: list[StopRequest],
                   asker: tuple[datetime, str] | None = None,
                   mine: str | None = None) -> list[HoldData] | Refusal | Wound:
    """Pick a point for every stop, or refuse at the first stop that cannot be held.

    Holds already placed win, with one exception: given the `asker` (its priority and trip id), a stop
    whose points are all taken but one only by undecided holds of later trips is a `Wound` — the
    caller asks those trips to yield and decides again (without an asker: nothing is wounded twice). A
    re-booking of trip `mine` may take the points that trip holds (its old stops go at the commit).
    """
    picked: list[HoldData] = []
    taken_here: list[tuple[str, datetime, datetime]] = []  # points this same request already took
    for req in stops:
        try:
            station = network.station(req.station_id)
        except KeyError:
            return Refusal(UNKNOWN_STATION, f"unknown station {req.station_id!r}", req.stop, req.station_id)
        if station.company_id != company_id:
            return Refusal(NOT_OUR_STATION, f"station {req.station_id!r} is not {company_id}'s",
                           req.stop, req.station_id)
        if not req.start < req.end:
            return Refusal(BAD_WINDOW, "the window ends before it starts", req.stop, req.station_id)
        candidates = [p for p in free_points(state, station, req.start, req.end, mine)
                      if not any(pid == p.id and overlaps(req.start, req.end, s, e)
                                 for pid, s, e in taken_here)]
        point = choose_point(candidates, req.min_power_kw)
        if point is None and asker is not None:
            wound = yielding_point(state, station, req, asker, taken_here)
            if wound is not None:
                return wound
        if point is None:
            conflicts = [c for p in station.points
                         for c in point_conflicts(state, p.id, req.start, req.end)]
            name = network.city(station.city_id).name
            return Refusal(
                POINT_TAKEN,
                f"no point of at least {req.min_power_kw:g} kW free at {station.name} ({name}) "
                f"from {req.start:%H:%M} to {req.end:%H:%M} UTC",
                req.stop, req.station_id, conflicts=conflicts,
                alternatives=alternatives_for(state, network, company_id, req))
        taken_here.append((point.id, req.start, req.end))
        picked.append(HoldData(stop=req.stop, station_id=station.id, point_id=point.id, power_kw=point.power_kw,
                               start=req.start.isoformat(), end=req.end.isoformat(), energy_kwh=req.energy_kwh))
    return picked


def overlapping_trip(state: ServerState, vehicle_id: str, departure: datetime, arrival: datetime) -> Trip | None:
    """A confirmed trip of this vehicle whose [departure, arrival) overlaps the given one: a car is in one place."""
    acc = state.accounts.get(vehicle_id)
    start, end = departure.timestamp(), arrival.timestamp()
    for trip_id in acc.trips if acc is not None else ():
        trip = state.trips.get(trip_id)
        if trip is not None and trip.status == COMMITTED and trip.plan.get("arrival") and overlaps(
                start, end, *_span(trip.plan["departure"], trip.plan["arrival"])):
            return trip
    return None


@lru_cache(maxsize=65_536)
def _span(departure: str, arrival: str) -> tuple[float, float]:
    # Asked for every trip of the car at every booking: a car with many trips ahead paid a parse of each, twice.
    return parse_time(departure).timestamp(), parse_time(arrival).timestamp()


def overlap_refusal(trip: Trip) -> tuple[str, dict[str, Any]]:
    """The reason and details of refusing a trip because the car is already booked on `trip`."""
    plan = trip.plan
    reason = (f"this car is already booked on trip {trip.trip_id} ({plan['origin']} → {plan['destination']}, "
              f"{parse_time(plan['departure']):%Y-%m-%d %H:%M} to {parse_time(plan['arrival']):%Y-%m-%d %H:%M} UTC)")
    return reason, {"trip_id": trip.trip_id, "origin": plan["origin"], "destination": plan["destination"],
                    "departure": plan["departure"], "arrival": plan["arrival"]}
