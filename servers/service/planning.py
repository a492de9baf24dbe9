"""Planning for a home company: the car as the planner needs it, plans around what is taken, and the
alternatives a refusal offers. Reads the state; writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from contract.models import TripIn
from servers.bookings import booking
from servers.bookings import events as ev
from servers.bookings.errors import DomainError, NotFound
from servers.service.availability import Availability
from servers.service.engine import Engine
from servers.world.cities import WHERE, city_id
from servers.world.network import Network
from servers.world.planner import (
    MAX_ALTERNATIVE_SEARCHES,
    Exclusions,
    Plan,
    PlanCache,
    PlanOptions,
    UnknownCity,
    Unreachable,
    detour_reason,
    plan_trip,
)
from servers.world.vehicles import DrivingProfile, Vehicle

ALTERNATIVES = 3  # whole plans offered with a refusal
ALTERNATIVE_SEARCHES = 8  # planner searches spent on other stations at the same time (each ~0.5 ms)
LATER_HOURS = (1, 2, 4, 8, 24)  # then the same trip leaving this much later


def plan_options(trip: TripIn) -> PlanOptions:
    """What the driver set for this trip's plan."""
    return PlanOptions(arrival_kwh=trip.arrival_kwh, stop_arrival_kwh=trip.stop_arrival_kwh,
                       max_charge_fraction=trip.max_charge_fraction, stop_penalty_minutes=trip.stop_penalty_minutes)


class TripPlanner:
    """Plans trips for this company's vehicles, around what its picture of every company shows taken."""

    def __init__(self, engine: Engine, network: Network, availability: Availability | None = None) -> None:
        self.engine = engine
        self.network = network
        self.availability = availability
        self._terms = {c.id: c.booking_terms.to_json() for c in network.companies}  # shown with every preview
        # Storms book the same road hundreds of times at different departures: a repeat costs a check of its
        # stops instead of a search (issue #12).
        self.cache = PlanCache()

    def vehicle_of(self, vehicle_id: str, trip: TripIn) -> Vehicle:
        """The vehicle as the planner needs it, from the account and the trip's overrides."""
        acc = self.engine.state.accounts.get(vehicle_id)
        if acc is None:
            raise NotFound(f"no account {vehicle_id!r} here", code="UNKNOWN_ACCOUNT")
        v = acc.vehicle
        charge = v["charge_kwh"] if trip.charge_kwh is None else min(trip.charge_kwh, v["capacity_kwh"])
        return Vehicle(capacity_kwh=v["capacity_kwh"], consumption_kwh_per_km=v["consumption_kwh_per_km"],
                       charge_kwh=charge, profile=DrivingProfile(trip.profile or v["profile"]),
                       max_ac_kw=v["max_ac_kw"], max_dc_kw=v["max_dc_kw"])

    def plan(self, trip: TripIn, vehicle: Vehicle, exclude: Exclusions, k: int = 1,
             max_searches: int = MAX_ALTERNATIVE_SEARCHES) -> list[Plan]:
        """Plan with the planner (city names as people type them, the driver's options), its refusals turned
        into domain errors with stable codes."""
        now = self.engine.clock()
        departure = trip.departure or now
        booking.check_departure(departure, now)
        try:
            return plan_trip(self.network, city_id(self.network, trip.origin),
                             city_id(self.network, trip.destination), departure, vehicle, exclude=exclude, k=k,
                             options=plan_options(trip), max_searches=max_searches, cache=self.cache)
        except UnknownCity as exc:
            raise DomainError(f"unknown city {exc.city_id!r}: {WHERE}", code="UNKNOWN_CITY",
                              details={"city": exc.city_id}) from exc
        except Unreachable as exc:
            raise DomainError(exc.reason, code=exc.code) from exc

    def explain(self, plan: Plan, vehicle: Vehicle) -> dict[str, Any]:
        """A plan as a preview shows it: its JSON and, when it leaves the shortest road, why."""
        terms = {c: self._terms[c] for c in dict.fromkeys(s.company_id for s in plan.stops)}
        return {**plan.to_json(), "detour_reason": detour_reason(self.network, plan, vehicle), "terms": terms}

    # -- booking ----------------------------------------------------------------------------------
    def exclusions(self, stations: Iterable[str] = (), asked: datetime | None = None,
                   mine: str | None = None) -> Exclusions:
        """What a booking plans around: the stations asked, and what our picture shows taken — except, for a
        trip that asked at `asked`, what later undecided trips hold (they would yield to it), and what trip
        `mine` holds itself (re-booking it)."""
        if self.availability is None:
            return Exclusions(stations=frozenset(stations))
        busy = self.availability.busy
        if asked is not None or mine is not None:
            busy = partial(busy, asker=asked.timestamp() if asked is not None else None, mine=mine)
        return Exclusions(stations=frozenset(stations), busy=busy)

    def taken_in_the_way(self, trip: TripIn, vehicle: Vehicle) -> dict[str, Any] | None:
        """Why no plan fits, when one would without what is taken: the refusal, naming a company that does not
        answer if the plain plan needs it. None when the car cannot make the trip even on an empty network."""
        try:
            plain = self.plan(trip, vehicle, Exclusions(stations=frozenset(trip.avoid_stations)))[0]
        except DomainError:
            return None
        silent = [c for c in self.availability.unavailable() if any(s.company_id == c for s in plain.stops)] \
            if self.availability is not None else []
        if silent:
            name = self.network.company(silent[0]).name
            return {"code": "PEER_UNAVAILABLE", "company": silent[0],
                    "reason": f"{name} is not answering, and no plan avoids its stations"}
        return {"code": booking.POINT_TAKEN,
                "reason": "every station this car can use on the way is booked at the times it would reach it"}

    def alternative_plans(self, trip: TripIn, vehicle: Vehicle, exclude: Exclusions) -> list[dict[str, Any]]:
        """Up to `ALTERNATIVES` plans around what is taken: other stations now, else the same trip later."""
        departure = trip.departure or self.engine.clock()
        plans: list[Plan] = []
        with contextlib.suppress(DomainError):
            plans = self.plan(trip, vehicle, exclude, ALTERNATIVES, max_searches=ALTERNATIVE_SEARCHES)
        for hours in LATER_HOURS:
            if len(plans) >= ALTERNATIVES:
                break
            later = trip.model_copy(update={"departure": departure + timedelta(hours=hours)})
            with contextlib.suppress(DomainError):
                plans.append(self.plan(later, vehicle, exclude)[0])
        return [_summary(p) for p in plans[:ALTERNATIVES]]






def _summary(plan: Plan) -> dict[str, Any]:
    data = plan.to_json()
    return {"departure": data["departure"], "arrival": data["arrival"], "path": data["path"],
            "stops": [{"station_id": s["station_id"], "company_id": s["company_id"], "city_id": s["city_id"],
                       "window_start": s["window_start"], "window_end": s["window_end"]} for s in data["stops"]],
            "total_minutes": data["total_minutes"], "cost_by_company": data["cost_by_company"],
            "cost": round(sum(data["cost_by_company"].values()), 2)}


def exclude_refused(exclude: Exclusions, plan: Plan, refusals: list[ev.No], network: Network) -> Exclusions:
    """Plan around what was refused: the taken points (slower free ones may still do), else the stop's
    station in its window; every station of a company that did not answer."""
    windows = list(exclude.windows)
    stations = set(exclude.stations)
    points = set(exclude.points)
    for vote in refusals:
        taken = {c["point_id"] for c in vote.conflicts}
        if vote.code == "PEER_UNAVAILABLE" and vote.company:
            stations.update(s.id for s in network.stations_of(vote.company))
        elif taken:
            points.update(taken)
        elif vote.stop is not None and 0 <= vote.stop < len(plan.stops):
            stop = plan.stops[vote.stop]
            windows.append((stop.station_id, stop.window_start, stop.window_end))
    return Exclusions(points=frozenset(points), stations=frozenset(stations), windows=tuple(windows),
                      busy=exclude.busy)
