"""The simulated drive: where the car is and how charged along a plan, and which check-ins are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards import trip_sim

T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
NETWORK = {"cities": [{"id": "a", "name": "A", "state": "BA", "lat": 0.0, "lon": 0.0},
                      {"id": "b", "name": "B", "state": "BA", "lat": 0.0, "lon": 1.0},
                      {"id": "c", "name": "C", "state": "PE", "lat": 0.0, "lon": 2.0}],
           "roads": [{"id": "ab", "a": "a", "b": "b", "highway": "BR-1", "km": 100},
                     {"id": "bc", "a": "b", "b": "c", "highway": "BR-1", "km": 100}]}
PLAN = {"departure": T0.isoformat(), "arrival": (T0 + timedelta(hours=3)).isoformat(), "path": ["a", "b", "c"],
        "distance_km": 200, "arrival_kwh": 10.0,
        "stops": [{"station_id": "s-b", "company_id": "x", "city_id": "b",
                   "arrive_at": (T0 + timedelta(hours=1)).isoformat(), "arrive_kwh": 10.0, "energy_kwh": 20.0,
                   "depart_at": (T0 + timedelta(hours=2)).isoformat()}]}


def at(minutes: float) -> trip_sim.Position:
    return trip_sim.position(PLAN, NETWORK, trip_sim.legs(PLAN, NETWORK), T0 + timedelta(minutes=minutes))


def test_departure_charge_is_worked_out_from_the_plan():
    # 20 kWh used over the second 100 km, so the first 100 km used 20 too: 10 + 20 at departure.
    assert trip_sim.start_kwh(PLAN, NETWORK) == pytest.approx(30.0)


@pytest.mark.parametrize(("minutes", "km", "kwh", "doing"), [
    (-10, 0, 30, "waiting"), (30, 50, 20, "driving"), (60, 100, 10, "charging"), (90, 100, 20, "charging"),
    (150, 150, 20, "driving"), (165, 175, 15, "driving"), (180, 200, 10, "arrived"), (999, 200, 10, "arrived")])
def test_the_car_drives_and_charges_along_the_plan(minutes, km, kwh, doing):
    pos = at(minutes)
    assert pos.km == pytest.approx(km)
    assert pos.kwh == pytest.approx(kwh)
    assert pos.doing.startswith(doing)
    assert pos.lon == pytest.approx(km / 100)


def test_check_ins_start_on_arrival_and_finish_on_leaving():
    due = trip_sim.check_ins(PLAN)
    assert [(c.stop, c.action, c.at - T0) for c in due] == [(0, "start", timedelta(hours=1)),
                                                            (0, "finish", timedelta(hours=2))]
    assert due[1].energy_kwh == 20.0
