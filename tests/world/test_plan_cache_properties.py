"""The plan cache against the full search, on random small networks, cars, departures and points taken."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from servers.world.network import Network, Station
from servers.world.planner import Exclusions, Plan, PlanCache, PlanOptions, Unreachable, plan_trip
from servers.world.plans import ExcludedWindow
from servers.world.synthetic import random_network
from servers.world.vehicles import Vehicle
from tests.world.test_planner_properties import DEPARTURE, PROPS, TOL, check_drivable, trips, vehicles

pytestmark = pytest.mark.slow  # hundreds of examples, each planned twice per departure

@st.composite
def long_trips(draw: st.DrawFn) -> tuple[Network, str, str, Vehicle]:
    """A trip that mostly needs stops: 4–10 cities, 3–12 stations (several to a city at times), to the farthest
    city, in a 40–80 kWh car 20–60 % charged: most can be made, with stops."""
    network = random_network(random.Random(draw(st.integers(0, 2**32 - 1))), draw(st.integers(4, 10)),
                             draw(st.integers(3, 12)), n_companies=draw(st.integers(1, 2)),
                             neighbours=draw(st.integers(2, 3)), box=(-9.0, -8.0, -41.0, -38.0), stationless=False,
                             max_points=3)
    ids = [c.id for c in network.cities]
    origin = draw(st.sampled_from(ids))
    destination = max(ids, key=lambda c: (network.shortest_km(origin)[c], c))
    car = draw(vehicles())
    capacity = draw(st.floats(40, 80))
    share = draw(st.floats(max(car.reserve_fraction, 0.2), 0.6))
    return network, origin, destination, dataclasses.replace(car, capacity_kwh=capacity, charge_kwh=capacity * share)


Taken = list[tuple[str, float, float]]  # (station, start, end in epoch seconds)


def busy_of(taken: Taken) -> Callable[[Station, float, float, float], bool]:
    def busy(station: Station, kw: float, start: float, end: float) -> bool:
        return any(station.id == sid and start < e and s < end for sid, s, e in taken)
    return busy


def answer(network: Network, trip: tuple[str, str], departure: datetime, vehicle: Vehicle, exclude: Exclusions,
           options: PlanOptions, k: int, cache: PlanCache | None) -> list[Plan] | str:
    try:
        return plan_trip(network, *trip, departure, vehicle, exclude=exclude, options=options, k=k, cache=cache)
    except Unreachable as exc:
        return exc.code


def rank(plan: Plan, options: PlanOptions) -> float:
    return plan.total_minutes + options.stop_penalty_minutes * len(plan.stops)


@PROPS
@given(trips() | long_trips(), st.data())
def test_a_warm_cache_plans_as_well_as_the_full_search(trip: tuple[Network, str, str, Vehicle],
                                                       data: st.DataObject) -> None:
    network, origin, destination, vehicle = trip
    options = PlanOptions(max_charge_fraction=data.draw(st.sampled_from([1.0, 0.8])),
                          stop_penalty_minutes=data.draw(st.sampled_from([0.0, 15.0])))
    k = data.draw(st.sampled_from([1, 1, 1, 2, 3]))
    station_ids = sorted(s.id for s in network.stations)
    cache = PlanCache()
    # Warm: the plan on an empty network (what a preview asks), at some departure.
    warm = answer(network, (origin, destination), DEPARTURE, vehicle, Exclusions(), options, k, cache)
    departures = data.draw(st.lists(st.integers(0, 3 * 24 * 3600), min_size=1, max_size=4))
    for offset in departures:
        departure = DEPARTURE + timedelta(seconds=offset)
        t0 = departure.timestamp()
        taken: Taken = []
        if station_ids:  # stations taken at random times, around when the trip is on the road
            for sid, start, minutes in data.draw(st.lists(st.tuples(st.sampled_from(station_ids),
                                                                    st.integers(0, 8 * 60), st.integers(5, 240)),
                                                          max_size=4)):
                taken.append((sid, t0 + 60.0 * start, t0 + 60.0 * (start + minutes)))
        if isinstance(warm, list) and warm[0].stops and data.draw(st.booleans()):
            # A stop of the cached plan taken at this departure's times: the cache must not answer with it.
            stop = data.draw(st.sampled_from(warm[0].stops))
            shift = departure - DEPARTURE
            taken.append((stop.station_id, (stop.window_start + shift).timestamp(),
                          (stop.window_end + shift).timestamp()))
        windows: tuple[ExcludedWindow, ...] = ()
        if isinstance(warm, list) and warm[0].stops and data.draw(st.booleans()):
            stop = data.draw(st.sampled_from(warm[0].stops))
            shift = departure - DEPARTURE
            windows = ((stop.station_id, stop.window_start + shift, stop.window_end + shift),)
        exclude = Exclusions(windows=windows, busy=busy_of(taken))
        hits, stale = cache.stats.hits, cache.stats.stale
        cached = answer(network, (origin, destination), departure, vehicle, exclude, options, k, cache)
        searched = answer(network, (origin, destination), departure, vehicle, exclude, options, k, None)
        assert cache.stats.hits + cache.stats.stale > hits + stale  # the warm problem was found: re-timed, or taken
        event("refused" if isinstance(cached, str) else "no stop" if not cached[0].stops else
              "a stop taken: the full search" if cache.stats.stale > stale else
              "re-timed, the warm plan's stations" if isinstance(warm, list)
              and cached[0].station_ids == warm[0].station_ids else "re-timed, as fast stations in their place")
        # As good as the search: the same total, or better — the search around taken points is not always
        # optimal (docs/planner.md, "Exclusions"); the cache's plan is the optimum with nothing taken, free.
        if isinstance(searched, str):
            assert cached == searched or isinstance(cached, list)
            if isinstance(cached, str):
                continue
            event("the cache found a plan where the search did not")
        assert isinstance(cached, list)
        if isinstance(searched, list):
            assert rank(cached[0], options) <= rank(searched[0], options) + TOL
            if rank(cached[0], options) < rank(searched[0], options) - TOL:
                event("the cache's plan is faster than the search's")
        if isinstance(warm, list):  # and never better than the optimum with nothing taken
            assert rank(cached[0], options) >= rank(warm[0], options) - TOL
        if k == 1:
            assert len(cached) == 1
        assert len({p.station_ids for p in cached}) == len(cached)
        for plan in cached:
            assert plan.departure == departure
            check_drivable(plan, network, vehicle)
            for s in plan.stops:  # every stop free (not taken, not in an excluded window), at its station's power
                station = network.station(s.station_id)
                assert s.power_kw == max(vehicle.charge_power_kw(p.power_kw, p.is_ac) for p in station.points)
                assert not busy_of(taken)(network.station(s.station_id), s.power_kw, s.window_start.timestamp(),
                                          s.window_end.timestamp())
                assert not exclude.blocks(s.station_id, s.window_start, s.window_end)


@PROPS
@given(long_trips(), st.data())
def test_a_hit_whose_stop_is_then_taken_falls_back_to_the_full_search(trip: tuple[Network, str, str, Vehicle],
                                                                      data: st.DataObject) -> None:
    network, origin, destination, vehicle = trip
    cache = PlanCache()
    nobody = Exclusions(busy=busy_of([]))
    try:
        warm = plan_trip(network, origin, destination, DEPARTURE, vehicle, exclude=nobody, cache=cache)[0]
    except Unreachable:
        return
    departure = DEPARTURE + timedelta(seconds=data.draw(st.integers(1, 3 * 24 * 3600)))
    hit = plan_trip(network, origin, destination, departure, vehicle, exclude=nobody, cache=cache)[0]
    hit = plan_trip(network, origin, destination, departure, vehicle, exclude=nobody, cache=cache)[0]  # kept now
    assert cache.stats.hits == 1 and hit.station_ids == warm.station_ids
    if not hit.stops:
        return
    i = data.draw(st.integers(0, len(hit.stops) - 1))
    stop = hit.stops[i]
    taken = [(stop.station_id, stop.window_start.timestamp(), stop.window_end.timestamp())]
    exclude = Exclusions(busy=busy_of(taken))
    try:
        plan = plan_trip(network, origin, destination, departure, vehicle, exclude=exclude, cache=cache)[0]
    except Unreachable:
        assert cache.stats.stale == 1
        with pytest.raises(Unreachable):
            plan_trip(network, origin, destination, departure, vehicle, exclude=exclude)
        return
    if cache.stats.stale == 1:  # the full search, as without a cache
        event("the full search")
        assert plan == plan_trip(network, origin, destination, departure, vehicle, exclude=exclude)[0]
    else:  # an as fast station of the same city took the taken one's place: the same minutes
        event("an as fast station in its place")
        other = plan.stops[i]
        assert other.station_id != stop.station_id and other.city_id == stop.city_id
        assert other.power_kw == stop.power_kw and plan.total_minutes == hit.total_minutes
        assert plan.station_ids[:i] + plan.station_ids[i + 1:] == hit.station_ids[:i] + hit.station_ids[i + 1:]
    assert not any(busy_of(taken)(network.station(s.station_id), s.power_kw, s.window_start.timestamp(),
                                  s.window_end.timestamp()) for s in plan.stops)
    check_drivable(plan, network, vehicle)
