"""The driver's planner options (arrival charge at chargers and at the destination, the most a stop charges,
fewer vs faster stops) and the sentence that says why a route leaves the shortest road."""

from __future__ import annotations

from datetime import datetime

import pytest

from servers.world.network import load_network
from servers.world.planner import PlanOptions, detour_reason, plan_trip
from servers.world.vehicles import Vehicle
from tests.world.test_planner import car, line

T0 = datetime(2025, 6, 1, 8, 0)
NET = load_network()
VEHICLE_AT_80 = Vehicle(capacity_kwh=60, consumption_kwh_per_km=0.16, charge_kwh=48, max_ac_kw=11, max_dc_kw=100)
PAIRS = [("salvador", "recife"), ("salvador", "fortaleza"), ("recife", "fortaleza"), ("salvador", "petrolina"),
         ("feira-de-santana", "juazeiro-do-norte"), ("salvador", "barreiras"), ("fortaleza", "teresina")]


def test_the_defaults_are_the_fastest_plan_as_before():
    for origin, destination in PAIRS:
        assert plan_trip(NET, origin, destination, T0, VEHICLE_AT_80, options=PlanOptions()) == \
            plan_trip(NET, origin, destination, T0, VEHICLE_AT_80)


def test_arriving_with_more_at_the_destination():
    net = line(100, 100, stations={"b": (50.0, "CCS_2")})
    (plan,) = plan_trip(net, "a", "c", T0, car(30.0), options=PlanOptions(arrival_kwh=10.0))
    assert plan.arrival_kwh == pytest.approx(10.0)  # the reserve (4) by default
    assert plan.stops[0].energy_kwh == pytest.approx(20.0)


def test_arriving_at_every_charger_with_at_least_what_was_asked():
    # a —100— b (22 kW) —100— c (150 kW) —150— d: by default the car reaches c at the reserve (4 kWh).
    net = line(100, 100, 150, stations={"b": (22.0, "TYPE_2"), "c": (150.0, "CCS_2")})
    default = plan_trip(net, "a", "d", T0, car(32.0))[0]
    assert min(s.arrive_kwh for s in default.stops) == pytest.approx(4.0)
    (plan,) = plan_trip(net, "a", "d", T0, car(32.0), options=PlanOptions(stop_arrival_kwh=10.0))
    assert all(s.arrive_kwh >= 10.0 - 1e-6 for s in plan.stops)
    assert plan.arrival_kwh == pytest.approx(4.0)  # the destination keeps its own floor


def test_no_stop_charges_above_the_most_asked():
    # A fast b then a slow c: by default the car fills up at b (to 40 kWh) to need less at slow c.
    net = line(100, 100, 120, stations={"b": (150.0, "CCS_2"), "c": (22.0, "TYPE_2")})
    default = plan_trip(net, "a", "d", T0, car(26.0))[0]
    assert max(s.arrive_kwh + s.energy_kwh for s in default.stops) == pytest.approx(40.0)
    (plan,) = plan_trip(net, "a", "d", T0, car(26.0), options=PlanOptions(max_charge_fraction=0.8))
    assert max(s.arrive_kwh + s.energy_kwh for s in plan.stops) <= 32.0 + 1e-6


@pytest.mark.parametrize(("origin", "destination"), PAIRS)
def test_fewer_stops_win_when_they_arrive_nearly_as_soon(origin, destination):
    penalty = 20.0
    fastest = plan_trip(NET, origin, destination, T0, VEHICLE_AT_80)[0]
    fewer = plan_trip(NET, origin, destination, T0, VEHICLE_AT_80, options=PlanOptions(stop_penalty_minutes=penalty))[0]
    dropped = len(fastest.stops) - len(fewer.stops)
    assert dropped >= 0
    assert fewer.total_minutes <= fastest.total_minutes + penalty * dropped + 1e-6
    assert all(s.arrive_kwh >= VEHICLE_AT_80.reserve_kwh - 1e-6 for s in fewer.stops)


def test_a_stop_that_adds_half_a_kwh_goes_away():
    fastest = plan_trip(NET, "salvador", "petrolina", T0, VEHICLE_AT_80)[0]
    assert min(s.energy_kwh for s in fastest.stops) < 1.0  # the kind of stop that looks like a mistake
    fewer = plan_trip(NET, "salvador", "petrolina", T0, VEHICLE_AT_80, options=PlanOptions(stop_penalty_minutes=10))[0]
    assert len(fewer.stops) == len(fastest.stops) - 1
    assert min(s.energy_kwh for s in fewer.stops) > 1.0


@pytest.mark.parametrize("bad", [{"max_charge_fraction": 0}, {"max_charge_fraction": 1.5}, {"arrival_kwh": -1},
                                 {"stop_penalty_minutes": -5}, {"stop_arrival_kwh": float("inf")}])
def test_options_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        PlanOptions(**bad)


def test_the_route_inland_says_the_coast_road_has_no_station_within_range():
    plan = plan_trip(NET, "salvador", "recife", T0, VEHICLE_AT_80)[0]
    why = detour_reason(NET, plan, VEHICLE_AT_80)
    assert why is not None
    assert "has no charging station this car can use" in why and "Aracaju" in why


def test_a_plan_on_the_shortest_road_needs_no_explanation():
    plan = plan_trip(NET, "fortaleza", "teresina", T0, VEHICLE_AT_80)[0]
    assert detour_reason(NET, plan, VEHICLE_AT_80) is None
