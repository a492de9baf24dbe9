"""The planner against a brute force, on random small networks, vehicles and trips."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.world.network import Network
from servers.world.planner import Exclusions, Plan, Unreachable, plan_trip
from servers.world.synthetic import path_is_connected, random_network
from servers.world.vehicles import DrivingProfile, Vehicle
from tests.world.planner_oracle import best_minutes, usable_stations

pytestmark = pytest.mark.slow  # hundreds of examples against a brute force

DEPARTURE = datetime(2025, 3, 1, 7, 0)
TOL = 1e-6
PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def vehicles(draw: st.DrawFn) -> Vehicle:
    capacity = draw(st.floats(20, 60))
    reserve = draw(st.sampled_from([0.0, 0.05, 0.10, 0.20]))
    return Vehicle(capacity_kwh=capacity,
                   consumption_kwh_per_km=draw(st.floats(0.15, 0.30)),
                   charge_kwh=capacity * draw(st.floats(reserve, 1.0)),
                   reserve_fraction=reserve,
                   profile=draw(st.sampled_from(list(DrivingProfile))),
                   max_ac_kw=draw(st.sampled_from([3.7, 7.0, 11.0, 22.0])),
                   max_dc_kw=draw(st.sampled_from([40.0, 50.0, 100.0, 200.0])))


@st.composite
def trips(draw: st.DrawFn) -> tuple[Network, str, str, Vehicle]:
    """A small random network (2–8 cities, 0–6 stations on ~330 × 110 km), a trip and a car.

    The sizes are tuned so that about a third of the trips need stops, a tenth two or more, and
    a half cannot be made at all: each case then tests something.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    network = random_network(random.Random(seed), draw(st.integers(2, 8)), draw(st.integers(0, 6)),
                             n_companies=draw(st.integers(1, 2)), neighbours=draw(st.integers(1, 3)),
                             box=(-9.0, -8.0, -41.0, -38.0), stationless=draw(st.booleans()))
    ids = [c.id for c in network.cities]
    origin = draw(st.sampled_from(ids))
    far = max(ids, key=lambda c: (network.shortest_km(origin)[c], c))
    destination = draw(st.sampled_from(ids) | st.just(far))
    return network, origin, destination, draw(vehicles())


def check_drivable(plan: Plan, network: Network, vehicle: Vehicle) -> None:
    """Every leg fits the battery; no stop and not the destination is reached below the reserve."""
    reserve, use = vehicle.reserve_kwh, vehicle.effective_consumption
    assert path_is_connected(network, plan.path)
    assert plan.path[0] == plan.origin and plan.path[-1] == plan.destination
    level, at = vehicle.charge_kwh, plan.origin
    for stop in plan.stops:
        km = network.shortest_km(at)[stop.city_id]
        level -= km * use
        assert stop.arrive_kwh == pytest.approx(level, abs=1e-6)
        if km > 0:
            assert level >= reserve - TOL
        assert stop.energy_kwh > 0
        level += stop.energy_kwh
        assert level <= vehicle.capacity_kwh + TOL
        assert stop.arrive_at < stop.depart_at and stop.window_start < stop.arrive_at
        assert stop.window_end > stop.depart_at
        at = stop.city_id
    level -= network.shortest_km(at)[plan.destination] * use
    assert plan.arrival_kwh == pytest.approx(level, abs=1e-6)
    assert level >= reserve - TOL
    assert plan.total_minutes == pytest.approx(plan.driving_minutes + plan.charging_minutes)
    assert plan.arrival == plan.departure + timedelta(minutes=plan.total_minutes)


@PROPS
@given(trips())
def test_planner_matches_brute_force(trip: tuple[Network, str, str, Vehicle]) -> None:
    network, origin, destination, vehicle = trip
    expected = best_minutes(network, origin, destination, vehicle)
    if expected is None:
        with pytest.raises(Unreachable):
            plan_trip(network, origin, destination, DEPARTURE, vehicle)
        return
    plan = plan_trip(network, origin, destination, DEPARTURE, vehicle)[0]
    assert plan.total_minutes == pytest.approx(expected, rel=1e-9, abs=1e-6)
    check_drivable(plan, network, vehicle)


@PROPS
@given(trips())
def test_a_trip_within_range_has_no_stop(trip: tuple[Network, str, str, Vehicle]) -> None:
    network, origin, destination, vehicle = trip
    km = network.shortest_km(origin)[destination]
    plans = plan_trip(network, origin, destination, DEPARTURE, vehicle) \
        if km <= vehicle.usable_range_km() else []
    for plan in plans:
        assert plan.stops == ()
        assert plan.distance_km == pytest.approx(km)


@PROPS
@given(trips(), st.data())
def test_exclusions_are_honoured_and_match_brute_force(trip: tuple[Network, str, str, Vehicle],
                                                       data: st.DataObject) -> None:
    network, origin, destination, vehicle = trip
    station_ids = sorted(s.id for s in network.stations)
    point_ids = sorted(p.id for s in network.stations for p in s.points)
    exclude = Exclusions(points=frozenset(data.draw(st.lists(st.sampled_from(point_ids)) if point_ids
                                                    else st.just([]))),
                         stations=frozenset(data.draw(st.lists(st.sampled_from(station_ids)) if station_ids
                                                      else st.just([]))))
    expected = best_minutes(network, origin, destination, vehicle, exclude=exclude)
    try:
        plan = plan_trip(network, origin, destination, DEPARTURE, vehicle, exclude=exclude)[0]
    except Unreachable:
        assert expected is None
        return
    assert expected is not None and plan.total_minutes == pytest.approx(expected, rel=1e-9, abs=1e-6)
    usable = {s.id for s, _ in usable_stations(network, vehicle, exclude)}
    assert all(stop.station_id in usable for stop in plan.stops)


@PROPS
@given(trips(), st.integers(2, 4))
def test_k_alternatives_are_distinct_sorted_and_drivable(trip: tuple[Network, str, str, Vehicle], k: int) -> None:
    network, origin, destination, vehicle = trip
    try:
        plans = plan_trip(network, origin, destination, DEPARTURE, vehicle, k=k)
    except Unreachable:
        return
    assert 1 <= len(plans) <= k
    assert len({p.station_ids for p in plans}) == len(plans)
    assert [p.total_minutes for p in plans] == sorted(p.total_minutes for p in plans)
    assert plans[0].total_minutes == pytest.approx(
        plan_trip(network, origin, destination, DEPARTURE, vehicle)[0].total_minutes)
    for plan in plans:
        check_drivable(plan, network, vehicle)


@PROPS
@given(trips(), st.data())
def test_excluded_windows_are_avoided(trip: tuple[Network, str, str, Vehicle], data: st.DataObject) -> None:
    network, origin, destination, vehicle = trip
    try:
        first = plan_trip(network, origin, destination, DEPARTURE, vehicle)[0]
    except Unreachable:
        return
    if not first.stops:
        return
    stop = data.draw(st.sampled_from(first.stops))
    windows = ((stop.station_id, stop.window_start, stop.window_end),)
    try:
        plan = plan_trip(network, origin, destination, DEPARTURE, vehicle, exclude=Exclusions(windows=windows))[0]
    except Unreachable:
        return
    for s in plan.stops:
        assert not (s.station_id == stop.station_id and s.window_start < stop.window_end
                    and stop.window_start < s.window_end)
    check_drivable(plan, network, vehicle)
