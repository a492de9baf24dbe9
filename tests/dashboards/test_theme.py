"""How the pages write numbers, times and labels: the same as the terminal, and saying what they count."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.console import Console

from dashboards import parts, theme
from vehicle_sim import views
from vehicle_sim.config import City, NetworkInfo

NETWORK = {"companies": [{"id": "voltpoint", "name": "VoltPoint"}],
           "cities": [{"id": "feira", "name": "Feira de Santana", "state": "BA"}]}
STOP = {"station_id": "vp-feira-1", "company_id": "voltpoint", "city_id": "feira", "power_kw": 100.0,
        "arrive_at": "2030-01-01T16:15:00+00:00", "depart_at": "2030-01-01T16:45:00+00:00", "arrive_kwh": 8.0,
        "energy_kwh": 30.0, "charge_minutes": 18.0, "cost": 1234.5, "window_start": "2030-01-01T16:05:00+00:00",
        "window_end": "2030-01-01T16:55:00+00:00", "point_id": "vp-feira-1-p2", "stop": 0}


@pytest.mark.parametrize(("value", "text"), [(1234.56, "R$ 1.234,56"), (0, "R$ 0,00"), (1e6, "R$ 1.000.000,00")])
def test_money_is_brazilian_on_the_pages_and_in_the_terminal(value, text):
    assert theme.money(value) == text == views.money(value)


def test_the_stops_table_numbers_from_one_and_keeps_cost_and_point_in_few_columns():
    frame = parts.stops_frame([STOP, STOP], NETWORK)
    assert list(frame["#"]) == [1, 2]
    assert {"cost", "point"} <= set(frame.columns) and len(frame.columns) <= 9
    assert frame["cost"][0] == "R$ 1.234,50" and frame["point"][0] == "vp-feira-1-p2"
    assert frame["arrive"][0] == "01/01 16:15"


def test_the_terminal_numbers_stops_from_one_too():
    net = NetworkInfo([City("feira", "Feira de Santana", "BA")], {"voltpoint": "VoltPoint"})
    plan = {"origin": "feira", "destination": "feira", "distance_km": 1, "total_minutes": 60, "arrival_kwh": 6,
            "departure": STOP["arrive_at"], "arrival": STOP["depart_at"], "stops": [STOP],
            "cost_by_company": {"voltpoint": 1234.5}}
    out = io.StringIO()
    con = Console(file=out, width=200, color_system=None)
    con.print(views.plan_table(plan, net))
    con.print(views.itinerary_table({"trip_id": "t1", "status": "RESERVED", "cost": 1234.5, "stops": [STOP],
                                     "plan": plan}, net))
    rows = [line for line in out.getvalue().splitlines() if "Feira de Santana" in line and "│" in line]
    assert len(rows) == 2 and all(line.split("│")[1].strip() == "1" for line in rows)
    assert "R$ 1.234,50" in out.getvalue() and "16:15" in out.getvalue()


def test_counts_say_one_or_many():
    assert theme.count(1, "booking") == "1 booking" and theme.count(3, "booking") == "3 bookings"


def test_a_point_booked_only_later_is_free_now():
    now = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    later = {"status": "AVAILABLE", "free": False,
             "bookings": [{"start": "2030-01-01T15:30:00+00:00", "end": "2030-01-01T16:30:00+00:00"}]}
    assert theme.free_now(later, now)
    assert not theme.free_now({**later, "bookings": [{"start": "2030-01-01T09:30:00+00:00",
                                                       "end": "2030-01-01T10:30:00+00:00"}]}, now)
    assert not theme.free_now({**later, "status": "OUT_OF_ORDER"}, now)
