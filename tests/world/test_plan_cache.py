"""The plan cache: a repeat is answered from it, as well as a search would, and nothing else is."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from servers.world.network import Network, Point, Station
from servers.world.planner import Exclusions, Plan, PlanCache, PlanOptions, Unreachable, plan_trip
from servers.world.tariffs import Tariff
from servers.world.vehicles import DrivingProfile, Vehicle
from tests.world.test_planner import car, line

T0 = datetime(2025, 6, 1, 8, 0)
CORRIDOR = ("vitoria-da-conquista", "fortaleza")  # the storms' road: three companies
CAR60 = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.16, charge_kwh=54.0, max_ac_kw=11.0, max_dc_kw=100.0)
Busy = Callable[[Station, float, float, float], bool]


def taken(*windows: tuple[str, datetime, datetime]) -> Busy:
    """A `busy` for which each station named is taken during its window (whatever the power)."""
    def busy(station: Station, kw: float, start: float, end: float) -> bool:
        return any(station.id == sid and start < e.timestamp() and s.timestamp() < end for sid, s, e in windows)
    return busy


NOBODY = Exclusions(busy=taken())  # timed, but nothing taken: what a server's planner always asks


def test_a_repeat_at_another_departure_is_answered_from_the_cache_as_the_search_answers(network: Network) -> None:
    cache = PlanCache()
    for i, exclude in enumerate([Exclusions(), NOBODY, NOBODY, NOBODY]):
        departure = T0 + timedelta(minutes=37 * i, seconds=11 * i)
        plan = plan_trip(network, *CORRIDOR, departure, CAR60, exclude=exclude, cache=cache)
        assert plan == plan_trip(network, *CORRIDOR, departure, CAR60, exclude=exclude)
        assert plan[0].departure == departure and len(plan[0].stops) >= 3
    assert (cache.stats.misses, cache.stats.hits, cache.stats.stale, len(cache)) == (1, 3, 0, 1)


def test_a_plan_from_the_cache_is_the_callers_own(network: Network) -> None:
    cache = PlanCache()
    first = plan_trip(network, *CORRIDOR, T0, CAR60, cache=cache)[0]
    first.cost_by_company.clear()  # a caller may change what it was given
    assert plan_trip(network, *CORRIDOR, T0, CAR60, cache=cache)[0] == plan_trip(network, *CORRIDOR, T0, CAR60)[0]


def test_a_timed_problem_is_kept_only_the_second_time_it_is_asked(network: Network) -> None:
    cache = PlanCache()
    plan_trip(network, *CORRIDOR, T0, CAR60, exclude=NOBODY, cache=cache)
    assert len(cache) == 0  # asked once: a full search, nothing more
    plan_trip(network, *CORRIDOR, T0 + timedelta(hours=1), CAR60, exclude=NOBODY, cache=cache)
    assert len(cache) == 1
    plan_trip(network, *CORRIDOR, T0 + timedelta(hours=2), CAR60, exclude=NOBODY, cache=cache)
    assert (cache.stats.misses, cache.stats.hits) == (2, 1)


def test_a_stop_taken_at_the_new_time_falls_back_to_the_full_search(network: Network) -> None:
    cache = PlanCache()
    cached = plan_trip(network, *CORRIDOR, T0, CAR60, cache=cache)[0]
    departure = T0 + timedelta(days=3, minutes=7)
    stop = plan_trip(network, *CORRIDOR, departure, CAR60, cache=cache)[0].stops[1]
    exclude = Exclusions(busy=taken((stop.station_id, stop.window_start, stop.window_end)))
    plan = plan_trip(network, *CORRIDOR, departure, CAR60, exclude=exclude, cache=cache)[0]
    assert cache.stats.stale == 1
    assert plan == plan_trip(network, *CORRIDOR, departure, CAR60, exclude=exclude)[0]
    assert stop.station_id not in plan.station_ids and plan.total_minutes > cached.total_minutes
    # The same stop taken at another time does not matter: the cached plan again.
    again = plan_trip(network, *CORRIDOR, departure + timedelta(hours=5), CAR60, exclude=exclude, cache=cache)[0]
    assert again.station_ids == cached.station_ids and cache.stats.stale == 1


def test_an_excluded_window_on_a_stop_falls_back_too(network: Network) -> None:
    cache = PlanCache()
    stop = plan_trip(network, *CORRIDOR, T0, CAR60, cache=cache)[0].stops[1]  # (Jequié's is the only way on)
    exclude = Exclusions(windows=((stop.station_id, stop.window_end - timedelta(minutes=1), stop.window_end),))
    plan = plan_trip(network, *CORRIDOR, T0, CAR60, exclude=exclude, cache=cache)[0]
    assert cache.stats.stale == 1 and plan == plan_trip(network, *CORRIDOR, T0, CAR60, exclude=exclude)[0]


def two_stations_in_b() -> Network:
    """a —100 km— b —100 km— c; b has two 50 kW stations, the second dearer (R$ 3/kWh against 2)."""
    net = line(100, 100)
    b1, b2 = (Station(f"vp-b-{i}", "vp", "b", f"VP b {i}", (Point(f"vp-b-{i}-p1", 50.0, "CCS_2"),),
                      tariff=Tariff(per_kwh=3.0) if i == 2 else None) for i in (1, 2))
    return Network(cities=net.cities, roads=net.roads, companies=net.companies, stations=(b1, b2))


def test_an_as_fast_station_in_the_same_city_takes_a_taken_ones_place_without_a_search() -> None:
    net = two_stations_in_b()
    cache = PlanCache()
    (plain,) = plan_trip(net, "a", "c", T0, car(30.0), cache=cache)
    assert plain.station_ids == ("vp-b-1",)
    stop = plain.stops[0]
    exclude = Exclusions(busy=taken(("vp-b-1", stop.window_start, stop.window_end)))
    (plan,) = plan_trip(net, "a", "c", T0, car(30.0), exclude=exclude, cache=cache)
    assert (cache.stats.hits, cache.stats.stale) == (1, 0)
    assert plan.station_ids == ("vp-b-2",) and plan.total_minutes == plain.total_minutes
    assert plan.cost == pytest.approx(1.5 * plain.cost)  # priced at the station used
    assert plan == plan_trip(net, "a", "c", T0, car(30.0), exclude=exclude)[0]


def test_a_refusal_is_kept_and_raised_afresh(network: Network) -> None:
    kwid = Vehicle(capacity_kwh=26.8, consumption_kwh_per_km=0.13, charge_kwh=26.8, max_ac_kw=7.0, max_dc_kw=30.0)
    cache = PlanCache()
    reasons = []
    for exclude in (Exclusions(), Exclusions(), NOBODY):
        with pytest.raises(Unreachable) as info:
            plan_trip(network, "salvador", "barreiras", T0, kwid, exclude=exclude, cache=cache)
        reasons.append((info.value.code, info.value.reason))
    assert cache.stats.hits == 2 and len(set(reasons)) == 1 and reasons[0][0] == "OUT_OF_RANGE"


def test_alternatives_from_the_cache_are_the_searchs(network: Network) -> None:
    cache = PlanCache()
    for i, exclude in enumerate([Exclusions(), NOBODY, NOBODY]):
        departure = T0 + timedelta(hours=3 * i)
        plans = plan_trip(network, "salvador", "fortaleza", departure, CAR60, exclude=exclude, k=3, cache=cache)
        assert plans == plan_trip(network, "salvador", "fortaleza", departure, CAR60, exclude=exclude, k=3)
    assert cache.stats.hits > 3  # the first plan and the alternatives' searches


def test_the_least_recently_used_goes_first(network: Network) -> None:
    cache = PlanCache(size=2)
    trips = [("salvador", "recife"), ("recife", "natal"), ("salvador", "recife"), ("fortaleza", "sobral")]
    for origin, destination in trips:
        plan_trip(network, origin, destination, T0, CAR60, cache=cache)
    assert len(cache) == 2 and cache.stats.hits == 1
    plan_trip(network, "salvador", "recife", T0, CAR60, cache=cache)  # kept: used after recife → natal
    plan_trip(network, "recife", "natal", T0, CAR60, cache=cache)  # gone
    assert (cache.stats.hits, cache.stats.misses) == (2, 4)


def test_another_network_is_never_answered_from_the_first_ones_plans() -> None:
    slow, fast = line(100, 100, stations={"b": (22.0, "CCS_2")}), line(100, 100, stations={"b": (150.0, "CCS_2")})
    cache = PlanCache()
    plan_trip(slow, "a", "c", T0, car(30.0), cache=cache)
    assert plan_trip(fast, "a", "c", T0, car(30.0), cache=cache) == plan_trip(fast, "a", "c", T0, car(30.0))
    assert cache.stats.hits == 0


# -- the key: every field that can change the answer is in it ------------------------------------------

VEHICLE_CHANGES: dict[str, Any] = {
    "capacity_kwh": 75.0, "consumption_kwh_per_km": 0.2, "charge_kwh": 30.0, "reserve_fraction": 0.2,
    "profile": DrivingProfile.AGGRESSIVE, "max_ac_kw": 3.7, "max_dc_kw": 50.0,
}
OPTION_CHANGES: dict[str, Any] = {
    "arrival_kwh": 20.0, "stop_arrival_kwh": 15.0, "max_charge_fraction": 0.8, "stop_penalty_minutes": 60.0,
}


MOOT = {  # changes that leave the corridor's plan as it is (the key must still tell them apart)
    "vehicle.max_ac_kw": "the corridor's stops are DC: the on-board charger does not matter",
    "options.stop_penalty_minutes": "every stop of the corridor's plan is needed: none can be saved",
}


def test_every_field_of_the_vehicle_and_the_options_is_tried_below() -> None:
    assert set(VEHICLE_CHANGES) == {f.name for f in dataclasses.fields(Vehicle)}
    assert set(OPTION_CHANGES) == {f.name for f in dataclasses.fields(PlanOptions)}


def variants() -> list[tuple[str, dict[str, Any]]]:
    """(what changed, plan_trip's arguments) — the corridor with one thing changed each."""
    base: dict[str, Any] = {"origin": CORRIDOR[0], "destination": CORRIDOR[1], "vehicle": CAR60}
    found = [(f"vehicle.{k}", {**base, "vehicle": dataclasses.replace(CAR60, **{k: v})})
             for k, v in VEHICLE_CHANGES.items()]
    found += [(f"options.{k}", {**base, "options": PlanOptions(**{k: v})}) for k, v in OPTION_CHANGES.items()]
    found += [("speed_kmh", {**base, "speed_kmh": 100.0}),
              ("origin", {**base, "origin": "feira-de-santana"}),
              ("destination", {**base, "destination": "juazeiro-do-norte"}),
              ("exclude.stations", {**base, "exclude": Exclusions(stations=frozenset({"vp-jequie-1"}))}),
              ("exclude.points", {**base, "exclude": Exclusions(points=frozenset({"vp-jequie-1-p1"}))})]
    return found


@pytest.mark.parametrize(("changed", "kwargs"), variants(), ids=[v[0] for v in variants()])
def test_a_change_to_anything_the_search_reads_misses_the_cache(network: Network, changed: str,
                                                                 kwargs: dict[str, Any]) -> None:
    cache = PlanCache()

    def plan(cache: PlanCache | None = None, **kw: Any) -> list[Plan] | str:
        args = {**kw}
        try:
            return plan_trip(network, args.pop("origin"), args.pop("destination"), T0, args.pop("vehicle"),
                             cache=cache, **args)
        except Unreachable as exc:
            return exc.code

    base = plan(cache, origin=CORRIDOR[0], destination=CORRIDOR[1], vehicle=CAR60)
    assert cache.stats.misses == 1
    assert plan(cache, **kwargs) == plan(**kwargs)
    assert cache.stats.misses == 2, f"{changed} was answered from the cache"
    if changed not in MOOT:
        assert plan(**kwargs) != base, f"{changed} does not change the corridor's plan: pick another value"


def test_the_stations_a_search_is_told_to_avoid_are_in_the_key(network: Network) -> None:
    # k alternatives ban one more station of a plan per search: each banned set is its own problem.
    cache = PlanCache()
    first = plan_trip(network, *CORRIDOR, T0, CAR60, cache=cache)[0]
    avoid = Exclusions(stations=frozenset({first.stops[1].station_id}))
    assert plan_trip(network, *CORRIDOR, T0, CAR60, exclude=avoid, cache=cache) == \
        plan_trip(network, *CORRIDOR, T0, CAR60, exclude=avoid)
    assert cache.stats.hits == 0
