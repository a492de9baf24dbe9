"""Worked examples of the planner that a person can check by hand, on tiny and on the real network."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from servers.world.network import City, Company, Network, Point, Road, Station
from servers.world.planner import Exclusions, Plan, UnknownCity, Unreachable, plan_trip
from servers.world.synthetic import path_is_connected
from servers.world.vehicles import DrivingProfile, Vehicle

T0 = datetime(2025, 6, 1, 8, 0)


def line(*legs: float, stations: dict[str, tuple[float, str]] | None = None) -> Network:
    """Cities a, b, c, … on a line `legs` km apart; `stations` maps a city to (kW, connector)."""
    ids = [chr(ord("a") + i) for i in range(len(legs) + 1)]
    lon = [-38.0]
    for km in legs:  # place the cities so the straight line is shorter than the road
        lon.append(lon[-1] - km / 120.0)
    cities = tuple(City(c, c.upper(), "BA", -12.0, x) for c, x in zip(ids, lon, strict=True))
    roads = tuple(Road(f"r-{a}-{b}", a, b, "BR-116", km) for a, b, km in zip(ids, ids[1:], legs, strict=False))
    company = Company("vp", "VoltPoint", "BA", 2.0, "#f59e0b", 18831, 8101)
    st = tuple(Station(f"vp-{c}-1", "vp", c, f"VP {c}", (Point(f"vp-{c}-1-p1", kw, conn),))  # type: ignore[arg-type]
               for c, (kw, conn) in (stations or {}).items())
    return Network(cities=cities, roads=roads, companies=(company,), stations=st)


def car(charge: float, **kw: float) -> Vehicle:
    """40 kWh, 0.2 kWh/km, reserve 4 kWh, 11 kW AC and 100 kW DC."""
    return Vehicle(capacity_kwh=40.0, consumption_kwh_per_km=0.2, charge_kwh=charge, max_ac_kw=11.0,
                   max_dc_kw=100.0, **kw)  # type: ignore[arg-type]


def test_one_stop_charges_just_enough_to_arrive_at_the_reserve() -> None:
    # a —100 km— b (50 kW) —100 km— c. 30 kWh at a: arrive at b with 10, need 20 + 4 to reach c.
    net = line(100, 100, stations={"b": (50.0, "CCS_2")})
    (plan,) = plan_trip(net, "a", "c", T0, car(30.0))
    (stop,) = plan.stops
    assert stop.station_id == "vp-b-1" and stop.arrive_kwh == pytest.approx(10.0)
    assert stop.energy_kwh == pytest.approx(14.0) and stop.power_kw == 50.0
    assert stop.charge_minutes == pytest.approx(14.0 / 50.0 * 60)  # 16.8 min
    assert plan.driving_minutes == pytest.approx(150.0)  # 200 km at 80 km/h
    assert plan.total_minutes == pytest.approx(166.8)
    assert plan.arrival_kwh == pytest.approx(4.0)
    assert stop.arrive_at == T0 + timedelta(minutes=75)
    assert (stop.window_start, stop.window_end) == (T0 + timedelta(minutes=65), T0 + timedelta(minutes=102))
    assert stop.cost == pytest.approx(28.0) and plan.cost_by_company == {"vp": pytest.approx(28.0)}
    assert plan.path == ("a", "b", "c")


def test_at_a_slow_station_only_enough_to_reach_the_fast_one() -> None:
    # a —100— b (22 kW AC, the car takes 11) —100— c (150 kW DC, the car takes 100) —150— d.
    net = line(100, 100, 150, stations={"b": (22.0, "TYPE_2"), "c": (150.0, "CCS_2")})
    (plan,) = plan_trip(net, "a", "d", T0, car(26.0))
    slow, fast = plan.stops
    assert (slow.power_kw, slow.energy_kwh) == (11.0, pytest.approx(18.0))  # to reach c at the reserve
    assert (fast.power_kw, fast.energy_kwh) == (100.0, pytest.approx(30.0))  # 150 km + reserve
    assert plan.charging_minutes == pytest.approx(18 / 11 * 60 + 30 / 100 * 60)


def test_at_a_fast_station_fill_up_before_a_slow_one() -> None:
    # a —100— b (150 kW) —100— c (22 kW AC) —150— d: fill the battery at b, top up at c.
    net = line(100, 100, 150, stations={"b": (150.0, "CCS_2"), "c": (22.0, "TYPE_2")})
    (plan,) = plan_trip(net, "a", "d", T0, car(26.0))
    fast, slow = plan.stops
    assert fast.energy_kwh == pytest.approx(34.0) and fast.arrive_kwh + fast.energy_kwh == pytest.approx(40.0)
    assert slow.arrive_kwh == pytest.approx(20.0) and slow.energy_kwh == pytest.approx(14.0)


def test_a_car_below_its_reserve_charges_where_it_is() -> None:
    net = line(100, stations={"a": (50.0, "CCS_2")})
    (plan,) = plan_trip(net, "a", "b", T0, car(2.0))
    (stop,) = plan.stops
    assert stop.city_id == "a" and stop.energy_kwh == pytest.approx(22.0)


def test_profiles_change_speed_and_consumption() -> None:
    net = line(100)
    eco, aggressive = (plan_trip(net, "a", "b", T0, car(40.0, profile=p))[0]  # type: ignore[arg-type]
                       for p in (DrivingProfile.ECONOMIC, DrivingProfile.AGGRESSIVE))
    assert eco.driving_minutes == pytest.approx(75 / 0.92) and aggressive.driving_minutes == pytest.approx(75 / 1.08)
    assert eco.arrival_kwh == pytest.approx(40 - 18) and aggressive.arrival_kwh == pytest.approx(40 - 24)


def test_same_origin_and_destination_is_a_plan_with_no_stop() -> None:
    (plan,) = plan_trip(line(100), "a", "a", T0, car(1.0))
    assert plan.stops == () and plan.path == ("a",) and plan.total_minutes == 0 and plan.arrival == T0


def test_unknown_city_and_missing_road_are_refused() -> None:
    with pytest.raises(UnknownCity, match="atlantida"):
        plan_trip(line(100), "a", "atlantida", T0, car(40.0))
    net = line(100)
    island = Network(cities=(*net.cities, City("z", "Z", "BA", -13.0, -39.0)), roads=net.roads,
                     companies=net.companies, stations=())
    with pytest.raises(Unreachable) as info:
        plan_trip(island, "a", "z", T0, car(40.0))
    assert info.value.code == "NO_ROAD"


def test_out_of_range_says_where_the_car_gets_stuck() -> None:
    net = line(100, 100, 200, stations={"b": (50.0, "CCS_2"), "c": (50.0, "CCS_2")})
    with pytest.raises(Unreachable) as info:
        plan_trip(net, "a", "d", T0, car(40.0))  # 200 km needs 44 kWh with the reserve
    assert info.value.code == "OUT_OF_RANGE" and "180 km" in info.value.reason and "of C" in info.value.reason


def test_excluded_points_stations_and_windows_are_avoided() -> None:
    net = line(100, 100, stations={"b": (50.0, "CCS_2")})
    for exclude in (Exclusions(points=frozenset({"vp-b-1-p1"})), Exclusions(stations=frozenset({"vp-b-1"}))):
        with pytest.raises(Unreachable):
            plan_trip(net, "a", "c", T0, car(30.0), exclude=exclude)
    stop = plan_trip(net, "a", "c", T0, car(30.0))[0].stops[0]
    busy = Exclusions(windows=(("vp-b-1", stop.window_end - timedelta(minutes=1), stop.window_end),))
    with pytest.raises(Unreachable):
        plan_trip(net, "a", "c", T0, car(30.0), exclude=busy)
    later = Exclusions(windows=(("vp-b-1", stop.window_end, stop.window_end + timedelta(hours=1)),))
    assert plan_trip(net, "a", "c", T0, car(30.0), exclude=later)[0].stops[0].station_id == "vp-b-1"


def test_plans_survive_json() -> None:
    net = line(100, 100, 150, stations={"b": (22.0, "TYPE_2"), "c": (150.0, "CCS_2")})
    plan = plan_trip(net, "a", "d", T0, car(26.0))[0]
    assert Plan.from_json(plan.to_json()) == plan


# -- the real network ----------------------------------------------------------------------------

def test_salvador_to_fortaleza_with_a_60_kwh_car_at_80_percent(network: Network) -> None:
    car60 = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.16, charge_kwh=48.0, max_ac_kw=11.0,
                    max_dc_kw=100.0)
    plans = plan_trip(network, "salvador", "fortaleza", T0, car60, k=3)
    best = plans[0]
    print(best.describe({c.id: c.name for c in network.cities}))
    assert best.path[0] == "salvador" and best.path[-1] == "fortaleza"
    assert path_is_connected(network, best.path)
    assert best.distance_km == pytest.approx(sum(network.road_km(a, b) for a, b in itertools.pairwise(best.path)))
    # 1,300-odd km on a 54 kWh-usable battery (337 km): at least three stops, at three companies' stations.
    assert len(best.stops) >= 3 and {s.company_id for s in best.stops} == {"voltpoint", "ecocharge", "eflux"}
    assert all(s.arrive_kwh >= car60.reserve_kwh - 1e-9 for s in best.stops)
    assert best.arrival_kwh == pytest.approx(car60.reserve_kwh)
    assert 15 * 60 < best.total_minutes < 24 * 60
    assert [p.total_minutes for p in plans] == sorted(p.total_minutes for p in plans)
    assert len({p.station_ids for p in plans}) == len(plans) == 3


def test_recife_to_natal_crosses_paraiba_on_the_charge_taken_in_recife(network: Network) -> None:
    car60 = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.16, charge_kwh=24.0)
    (plan,) = plan_trip(network, "recife", "natal", T0, car60)
    (stop,) = plan.stops  # PB and RN have no station: the car leaves Recife with all it needs
    assert stop.city_id == "recife" and stop.energy_kwh == pytest.approx(305 * 0.16 + 6.0 - 24.0)
    full = plan_trip(network, "recife", "natal", T0, Vehicle(60.0, 0.16, 60.0))[0]
    assert full.stops == () and full.distance_km == 305


def test_a_small_car_gets_stuck_on_the_way_west_to_barreiras(network: Network) -> None:
    # A Kwid E-Tech goes 186 km on a full battery; Itaberaba → Seabra on BR-242 is 200 km.
    kwid = Vehicle(capacity_kwh=26.8, consumption_kwh_per_km=0.13, charge_kwh=26.8, max_ac_kw=7.0, max_dc_kw=30.0)
    with pytest.raises(Unreachable) as info:
        plan_trip(network, "salvador", "barreiras", T0, kwid)
    assert info.value.code == "OUT_OF_RANGE"
    assert info.value.reason == ("no usable charging station within 186 km (the car's range on a full battery)"
                                 " of Itaberaba on the way to Barreiras")
    mini = Vehicle(capacity_kwh=38.0, consumption_kwh_per_km=0.125, charge_kwh=38.0)
    assert plan_trip(network, "salvador", "barreiras", T0, mini)[0].path[-3:] == ("seabra", "ibotirama", "barreiras")
