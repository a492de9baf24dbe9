"""Drive a booked trip in accelerated time: legs, discharge, check-ins, telemetry, the charge at the end.

The car follows the plan's road (`plan.path`) city by city. It discharges by
its own physics — the account's kWh/km times its driving profile's factor,
the same model the planner uses — so arriving with the charge the plan
promised checks the plan, it is not assumed. At each stop it checks in
(`start`), charges the planned energy (never above the battery's capacity),
and checks out (`finish`, with the energy charged). At the destination it
stores its charge on the account (`update_vehicle`).

Time is simulated: the clock shown is the plan's (departure, stops, arrival)
and the simulator only sleeps `simulated seconds / speedup`. The server's
clock is real UTC time; it accepts a check-in at any time for a confirmed
reservation, so the drive does not wait for the real windows.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import NetworkInfo, fetch_network
from .errors import ReplyError
from .session import VehicleSession
from .views import money

#: kWh/km multiplier per driving profile: the car's physics, as in the planner's model
#: (servers/world/vehicles.py, which a client may not import).
PROFILE_CONSUMPTION = {"economic": 0.9, "normal": 1.0, "aggressive": 1.2}
#: Arrival charge may differ from the plan's by this fraction of the battery's capacity.
DEFAULT_TOLERANCE = 0.02
#: Telemetry lines while charging at one stop.
CHARGE_STEPS = 3


class DriveError(Exception):
    """The trip cannot be driven (unknown, not confirmed, or a plan the simulator cannot follow)."""


@dataclass(frozen=True)
class Telemetry:
    """One line of the car's telemetry: where, when (simulated), how charged, doing what."""

    at: datetime
    km: float
    total_km: float
    place: str
    charge_kwh: float
    capacity_kwh: float
    status: str  # departed, driving …, at stop, charging, charged, arrived, stranded, not charging
    note: str = ""

    @property
    def percent(self) -> float:
        """State of charge in %."""
        return 100.0 * self.charge_kwh / self.capacity_kwh if self.capacity_kwh else 0.0

    def line(self) -> str:
        """The telemetry as one line of text."""
        note = f"  {self.note}" if self.note else ""
        return (f"{self.at.astimezone():%d/%m %H:%M}  km {self.km:6.1f}/{self.total_km:.0f}  {self.place:<24} "
                f"{self.charge_kwh:5.1f} kWh {self.percent:3.0f}%  {self.status}{note}")


@dataclass
class CheckIn:
    """What happened at one reserved stop."""

    stop: int
    station_id: str
    city: str
    point_id: str | None
    arrive_kwh: float
    planned_arrive_kwh: float
    energy_kwh: float = 0.0
    started: bool = False
    finished: bool = False
    error: str = ""
    price: dict[str, int] | None = None  # the station's company's charge record: the session's price by part


@dataclass
class DriveReport:
    """The outcome of a drive: check-ins, the charge at the end against the promise, and any problems."""

    trip_id: str
    origin: str
    destination: str
    capacity_kwh: float
    start_kwh: float
    final_kwh: float
    promised_kwh: float
    tolerance_kwh: float
    distance_km: float
    departure: datetime
    arrival: datetime
    check_ins: list[CheckIn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    telemetry: list[Telemetry] = field(default_factory=list)
    arrived: bool = False
    vehicle_updated: bool = False
    interrupted: bool = False

    @property
    def all_checked_in(self) -> bool:
        """Every stop started and finished at the server."""
        return all(c.started and c.finished for c in self.check_ins)

    @property
    def within_promise(self) -> bool:
        """The car arrived with the promised charge, within the tolerance."""
        return self.arrived and abs(self.final_kwh - self.promised_kwh) <= self.tolerance_kwh

    @property
    def ok(self) -> bool:
        """Arrived, checked in everywhere, with the promised charge."""
        return self.within_promise and self.all_checked_in and not self.problems


@dataclass(frozen=True)
class _Waypoint:
    """A city on the trip's road, with the km from the origin and the road that led here."""

    city: str
    km: float
    highway: str


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def waypoints(path: list[str], network: NetworkInfo) -> list[_Waypoint]:
    """The plan's path as waypoints with cumulative km along the network's roads."""
    out = [_Waypoint(path[0], 0.0, "")]
    for a, b in itertools.pairwise(path):
        roads = [r for r in network.roads if {r.get("a"), r.get("b")} == {a, b}]
        if roads:
            road = min(roads, key=lambda r: float(r["km"]))
            km, highway = float(road["km"]), str(road.get("highway", ""))
        else:  # not a road of this network (data changed under the plan): straight line, marked
            ca, cb = network.city(a), network.city(b)
            km = _haversine_km((ca.lat, ca.lon), (cb.lat, cb.lon)) if ca and cb else 0.0
            highway = "?"
        out.append(_Waypoint(b, out[-1].km + km, highway))
    return out


def _stop_indices(points: list[_Waypoint], stops: list[dict[str, Any]]) -> list[int]:
    """Where on the path each stop is (stops are in order; a stop may be at the origin)."""
    found: list[int] = []
    start = 0
    for stop in stops:
        index = next((i for i in range(start, len(points)) if points[i].city == stop["city_id"]), None)
        if index is None:
            raise DriveError(f"stop {stop.get('stop')} in {stop['city_id']} is not on the trip's road")
        found.append(index)
        start = index
    return found


def find_trip(session: VehicleSession, trip_id: str) -> dict[str, Any]:
    """The vehicle's trip with this id (from `trips`); DriveError when it is not there."""
    trips = session.request("trips").get("trips", [])
    for trip in trips:
        if trip.get("trip_id") == trip_id:
            return dict(trip)
    raise DriveError(f"no trip {trip_id!r} among this vehicle's trips")


def drive_trip(
    session: VehicleSession,
    trip_id: str,
    *,
    speedup: float = 120.0,
    network: NetworkInfo | None = None,
    profile: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    on_telemetry: Callable[[Telemetry], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    update_vehicle: bool = True,
) -> DriveReport:
    """Drive a confirmed trip of this session's vehicle and report how it went.

    `speedup`: simulated seconds per real second. `profile`: drive differently
    from the account's profile (the plan then no longer holds, and the report
    says so). Raises DriveError when the trip cannot be driven; the server's
    refusals during the drive (a check-in refused) are in the report.
    """
    if speedup <= 0:
        raise DriveError("speedup must be > 0")
    trip = find_trip(session, trip_id)
    if trip.get("status") != "RESERVED":
        raise DriveError(f"trip {trip_id} is {trip.get('status')}; only a confirmed trip can be driven")
    account = session.account()
    car = account["vehicle"]
    net = network or fetch_network(session.endpoint)
    driven_profile = profile or str(car.get("profile", "normal"))
    if driven_profile not in PROFILE_CONSUMPTION:
        raise DriveError(f"unknown driving profile {driven_profile!r}")
    return _Drive(trip, car, net, driven_profile, speedup, tolerance, on_telemetry, sleep).run(
        session if update_vehicle else None, session)


class _Drive:
    """One drive: the car's state while it follows the plan."""

    def __init__(self, trip: dict[str, Any], car: dict[str, Any], network: NetworkInfo, profile: str,
                 speedup: float, tolerance: float, on_telemetry: Callable[[Telemetry], None] | None,
                 sleep: Callable[[float], None]) -> None:
        self.trip, self.network, self.speedup = trip, network, speedup
        self.plan: dict[str, Any] = trip["plan"]
        self.stops: list[dict[str, Any]] = sorted(trip.get("stops") or self.plan.get("stops", []),
                                                  key=lambda s: int(s.get("stop", 0)))
        for index, stop in enumerate(self.stops):
            stop.setdefault("stop", index)
        self.capacity = float(car["capacity_kwh"])
        self.rate = float(car["consumption_kwh_per_km"]) * PROFILE_CONSUMPTION[profile]
        self.profile = profile
        self.level = float(car.get("charge_kwh", self.capacity))
        self.on_telemetry, self.sleep = on_telemetry, sleep
        self.points = waypoints(list(self.plan["path"]), network)
        self.total_km = self.points[-1].km
        self.clock = datetime.fromisoformat(self.plan["departure"])
        self.report = DriveReport(
            trip_id=str(trip["trip_id"]), origin=self.plan["origin"], destination=self.plan["destination"],
            capacity_kwh=self.capacity, start_kwh=self.level, final_kwh=self.level,
            promised_kwh=float(self.plan["arrival_kwh"]), tolerance_kwh=tolerance * self.capacity,
            distance_km=self.total_km, departure=self.clock, arrival=datetime.fromisoformat(self.plan["arrival"]))

    # -- telemetry and the simulated clock ------------------------------------------------------------
    def emit(self, index: int, status: str, note: str = "", km: float | None = None) -> None:
        point = self.points[index]
        city = self.network.city(point.city)
        place = city.label if city is not None else point.city
        t = Telemetry(self.clock, point.km if km is None else km, self.total_km, place, self.level, self.capacity,
                      status, note)
        self.report.telemetry.append(t)
        if self.on_telemetry is not None:
            self.on_telemetry(t)

    def advance(self, until: datetime) -> None:
        """Move the simulated clock, sleeping the accelerated share of real time."""
        seconds = (until - self.clock).total_seconds()
        if seconds > 0:
            self.sleep(seconds / self.speedup)
            self.clock = until

    # -- the drive ------------------------------------------------------------------------------------
    def run(self, updater: VehicleSession | None, session: VehicleSession) -> DriveReport:
        """Drive the whole trip; Ctrl-C ends it early with the report so far (and says so in it)."""
        try:
            return self._run(updater, session)
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.report.problems.append(f"interrupted (Ctrl-C) at {self.clock:%d/%m %H:%M} UTC, "
                                        f"{len(self.report.check_ins)} of {len(self.stops)} stop(s) reached")
            self.report.final_kwh = self.level
            return self.report  # the charge is not stored: the drive did not end

    def _run(self, updater: VehicleSession | None, session: VehicleSession) -> DriveReport:
        self._check_plan_assumptions()
        stop_at = _stop_indices(self.points, self.stops)
        self.emit(0, "departed", f"{self.profile}, {self.rate:.3f} kWh/km")
        here = 0
        leg_start = self.clock
        for stop, index in zip(self.stops, stop_at, strict=True):
            if not self._drive_to(here, index, leg_start, datetime.fromisoformat(stop["arrive_at"])):
                return self._finish(updater)
            self._charge(session, stop, index)
            here, leg_start = index, self.clock
        if self._drive_to(here, len(self.points) - 1, leg_start, self.report.arrival):
            self.report.arrived = True
            promised = self.report.promised_kwh
            note = f"plan promised {promised:.1f} kWh"
            if abs(self.level - promised) > self.report.tolerance_kwh:
                self.report.problems.append(
                    f"arrived with {self.level:.1f} kWh; the plan promised {promised:.1f} kWh "
                    f"(tolerance ±{self.report.tolerance_kwh:.1f} kWh)")
                note += " — outside the tolerance"
            self.emit(len(self.points) - 1, "arrived", note)
        return self._finish(updater)

    def _check_plan_assumptions(self) -> None:
        """Say up front when the car is not the one the plan was made for (charge or consumption)."""
        tol = self.report.tolerance_kwh
        if self.stops:
            last = self.stops[-1]
            indices = _stop_indices(self.points, self.stops)
            km_last = self.total_km - self.points[indices[-1]].km
            left = float(last["arrive_kwh"]) + float(last["energy_kwh"])
            if km_last > 0:
                plan_rate = (left - self.report.promised_kwh) / km_last
                if abs(plan_rate - self.rate) > 0.01 * plan_rate:
                    self.report.problems.append(
                        f"the plan assumed {plan_rate:.3f} kWh/km, this car uses {self.rate:.3f} kWh/km "
                        f"(profile {self.profile})")
            assumed = float(self.stops[0]["arrive_kwh"]) + self.points[indices[0]].km * self.rate
        else:
            assumed = self.report.promised_kwh + self.total_km * self.rate
        if abs(assumed - self.level) > tol:
            self.report.problems.append(f"the car starts with {self.level:.1f} kWh; the plan assumed "
                                        f"{assumed:.1f} kWh at departure")
        if abs(self.total_km - float(self.plan.get("distance_km", self.total_km))) > 1.0:
            self.report.problems.append(f"the roads add up to {self.total_km:.0f} km; the plan says "
                                        f"{float(self.plan['distance_km']):.0f} km")

    def _drive_to(self, start: int, end: int, leg_start: datetime, leg_end: datetime) -> bool:
        """Drive city by city from waypoint `start` to `end`; False when the battery ran out."""
        leg_km = self.points[end].km - self.points[start].km
        minutes = max(0.0, (leg_end - leg_start).total_seconds() / 60.0)
        for i in range(start + 1, end + 1):
            done = self.points[i].km - self.points[start].km
            self.advance(leg_start + timedelta(minutes=minutes * done / leg_km if leg_km else minutes))
            self.level -= (self.points[i].km - self.points[i - 1].km) * self.rate
            if self.level < 0:
                km_short = -self.level / self.rate
                self.level = 0.0
                self.report.problems.append(f"ran out of charge {km_short:.0f} km before "
                                            f"{self.network.city_name(self.points[i].city)}")
                self.emit(i, "stranded", f"{km_short:.0f} km short", km=self.points[i].km - km_short)
                return False
            note = "below the 10% reserve" if self.level < 0.1 * self.capacity else ""
            if i < end:
                self.emit(i, f"driving {self.points[i].highway}".rstrip(), note)
        return True

    def _charge(self, session: VehicleSession, stop: dict[str, Any], index: int) -> None:
        """Arrive at a reserved stop, check in, charge, check out."""
        number = int(stop["stop"])
        planned = float(stop["arrive_kwh"])
        record = CheckIn(stop=number, station_id=str(stop["station_id"]), city=str(stop["city_id"]),
                         point_id=stop.get("point_id"), arrive_kwh=self.level, planned_arrive_kwh=planned)
        self.report.check_ins.append(record)
        where = f"point {stop.get('point_id') or stop['station_id']}"
        if abs(self.level - planned) > self.report.tolerance_kwh:
            self.report.problems.append(f"arrived at stop {number} with {self.level:.1f} kWh; the plan said "
                                        f"{planned:.1f} kWh")
        self.emit(index, "at stop", f"{where}, plan {planned:.1f} kWh")
        trip_id = self.report.trip_id
        try:
            session.request("check_in", trip_id=trip_id, stop=number, action="start")
            record.started = True
        except ReplyError as exc:
            record.error = f"{exc.code}: {exc.message}"
            self.report.problems.append(f"check-in at stop {number} refused: {record.error}")
            self.emit(index, "not charging", record.error)
            return
        energy = max(0.0, min(float(stop["energy_kwh"]), self.capacity - self.level))
        minutes = float(stop.get("charge_minutes", 0.0)) * (energy / float(stop["energy_kwh"])
                                                            if float(stop["energy_kwh"]) else 0.0)
        start_level, start_clock = self.level, self.clock
        for step in range(1, CHARGE_STEPS + 1):
            self.advance(start_clock + timedelta(minutes=minutes * step / CHARGE_STEPS))
            self.level = start_level + energy * step / CHARGE_STEPS
            if step < CHARGE_STEPS:
                self.emit(index, "charging", f"{stop.get('power_kw', '?')} kW")
        record.energy_kwh = round(energy, 3)
        try:
            done = session.request("check_in", trip_id=trip_id, stop=number, action="finish",
                                   energy_kwh=record.energy_kwh)
            record.finished = True
            record.price = ((done or {}).get("cdr") or {}).get("price")
        except ReplyError as exc:
            record.error = f"{exc.code}: {exc.message}"
            self.report.problems.append(f"check-out at stop {number} refused: {record.error}")
        # The plan's departure time may be later than charging took (the window's end): leave on the plan's clock.
        depart = datetime.fromisoformat(stop["depart_at"])
        if depart > self.clock:
            self.advance(depart)
        worth = f", recorded at {money(record.price['total'] / 100)}" if record.price else ""
        self.emit(index, "charged", f"+{energy:.1f} kWh{worth}")

    def _finish(self, updater: VehicleSession | None) -> DriveReport:
        self.report.final_kwh = self.level
        if updater is not None:
            try:
                updater.request("update_vehicle", charge_kwh=round(max(0.0, min(self.level, self.capacity)), 3))
                self.report.vehicle_updated = True
            except ReplyError as exc:
                self.report.problems.append(f"could not store the charge on the account: {exc.code}: {exc.message}")
        return self.report
