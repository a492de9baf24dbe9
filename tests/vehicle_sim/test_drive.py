"""Driving a booked trip in accelerated time against a real local network."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from events.store import SqliteEventStore
from tests.live import CAR, signup_form
from vehicle_sim.cli import app
from vehicle_sim.drive import DriveError, drive_trip
from vehicle_sim.session import BOOK_TIMEOUT, VehicleSession

from .conftest import run_menus

pytestmark = pytest.mark.integration


def booked_car(endpoint, hours: float) -> tuple[VehicleSession, dict, dict]:
    """A new car with a confirmed Salvador → Fortaleza trip leaving in `hours` (apart from other tests' trips)."""
    form = signup_form(random.getrandbits(62))
    session = VehicleSession.signup(endpoint, form)
    departure = (datetime.now(UTC) + timedelta(hours=hours)).isoformat()
    trip = session.request("book", BOOK_TIMEOUT, origin="salvador", destination="fortaleza", departure=departure)
    assert trip["status"] == "RESERVED" and len(trip["stops"]) >= 3
    return session, trip, form


def charging_finished(net, trip_id: str) -> Counter[str]:
    """ChargingFinished events of this trip in each company's log."""
    found: Counter[str] = Counter()
    for company in net.companies:
        with SqliteEventStore(net.log_path(company), create=False) as store:
            found[company] = sum(1 for e in store.iter_all()
                                 if e.type == "ChargingFinished" and e.data.get("trip_id") == trip_id)
    return +found


def test_a_driven_trip_checks_in_at_every_stop_and_arrives_with_the_promised_charge(net, endpoints):
    session, trip, _ = booked_car(endpoints["voltpoint"], 220)
    slept: list[float] = []
    lines: list[str] = []
    with session:
        report = drive_trip(session, trip["trip_id"], speedup=3600, sleep=slept.append,
                            on_telemetry=lambda t: lines.append(t.line()))
        account = session.account()
    assert report.ok, report.problems
    assert [c.stop for c in report.check_ins] == [s["stop"] for s in trip["stops"]]
    assert all(c.started and c.finished for c in report.check_ins)
    # Each finish answered the session's charge record, and the driver's statement keeps one per stop.
    assert all(c.price and c.price["total"] > 0 for c in report.check_ins)
    assert [e["charge"]["stop"] for e in account["statement"] if e["kind"] == "charge"] == \
        [s["stop"] for s in trip["stops"]]
    assert any("recorded at R$" in line for line in lines)
    assert abs(report.final_kwh - trip["plan"]["arrival_kwh"]) <= 0.02 * CAR["capacity_kwh"]
    assert account["vehicle"]["charge_kwh"] == pytest.approx(report.final_kwh, abs=1e-3)
    # Every stop's charging is recorded at the company that owns its station.
    assert charging_finished(net, trip["trip_id"]) == Counter(s["company_id"] for s in trip["stops"])
    # Accelerated time: an hour of the trip per second.
    assert sum(slept) == pytest.approx(trip["plan"]["total_minutes"] * 60 / 3600, rel=0.02)
    assert "departed" in lines[0] and "arrived" in lines[-1] and "Fortaleza" in lines[-1]


def test_driving_more_aggressively_than_planned_says_why_the_promise_was_missed(endpoints):
    session, trip, _ = booked_car(endpoints["eflux"], 240)
    with session:
        report = drive_trip(session, trip["trip_id"], speedup=1e6, sleep=lambda s: None, profile="aggressive",
                            update_vehicle=False)
    assert not report.ok
    assert any("kWh/km" in p for p in report.problems)
    assert report.final_kwh < report.promised_kwh or not report.arrived


def test_a_cancelled_trip_cannot_be_driven(endpoints):
    session, trip, _ = booked_car(endpoints["ecocharge"], 260)
    with session:
        session.request("cancel", trip_id=trip["trip_id"])
        with pytest.raises(DriveError, match="CANCELED"):
            drive_trip(session, trip["trip_id"], sleep=lambda s: None)
        with pytest.raises(DriveError, match="no trip"):
            drive_trip(session, "t-not-a-trip", sleep=lambda s: None)


def test_the_drive_command_and_the_menu_drive_a_booked_trip(net, endpoints):
    session, trip, form = booked_car(endpoints["voltpoint"], 280)
    session.close()
    result = CliRunner().invoke(app, ["drive", "--trip", trip["trip_id"], "--login", form["cpf"],
                                      "--password", form["password"], "--speedup", "1e7",
                                      "--clients", str(net.clients_file), "--json"])
    assert result.exit_code == 0, result.output
    assert "drive: OK" in result.output and '"ok": true' in result.output

    session, trip, form = booked_car(endpoints["voltpoint"], 300)
    session.close()
    seen = run_menus(endpoints["voltpoint"], ["1", form["email"], form["password"], "6", "1", "", "0"])
    assert "drive: OK" in seen and f"checked in at {len(trip['stops'])}/{len(trip['stops'])}" in seen


def test_ctrl_c_during_a_drive_ends_it_with_the_report_so_far(net, endpoints):
    session, trip, _ = booked_car(endpoints["voltpoint"], 236)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 6:  # a few towns in: the person presses Ctrl-C
            raise KeyboardInterrupt

    with session:
        report = drive_trip(session, trip["trip_id"], speedup=3600, sleep=sleep)
    assert report.interrupted and not report.arrived and not report.ok
    assert any("interrupted (Ctrl-C)" in p for p in report.problems)
    assert 0 < report.final_kwh <= CAR["capacity_kwh"]
