"""Money by the companies' terms and tariffs (#14 items 2–4): prices by part, refunds by cancel-until, the no-show
fee once, charge detail records — in-process companies on a hand-moved clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract.models import CheckInIn, TripIn
from events.memory import InMemoryEventStore
from events.model import NewEvent, StreamAppend
from federation.invariants import check
from servers.bookings import events as ev
from servers.bookings import money
from servers.service.accounts import account_stream
from servers.service.trips import trip_stream
from servers.world.network import BookingTerms, parse_network
from servers.world.tariffs import Price, Tariff
from tests.servers.fakes import START, Clock, build_nodes, logs, signup

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


# -- pricing by part -----------------------------------------------------------------------------------
def test_a_price_is_its_parts_each_rounded_once_half_up():
    tariff = Tariff(per_kwh=1.89, per_minute_charging=0.1, per_minute_idle=0.5, session_fee=1.5, reservation_fee=2)
    price = tariff.price(12.5, 33.333, 7.0)
    assert price == Price(energy=2363, charging_time=333, idle=350, session=150, reservation=200)
    assert price.total == 2363 + 333 + 350 + 150 + 200
    assert Price.from_json(price.to_json()) == price and price.to_json()["total"] == price.total


def test_an_old_network_file_with_a_price_per_kwh_only_prices_energy_alone(network):
    data = {"cities": [{"id": "a", "name": "A", "state": "BA", "lat": -12.0, "lon": -38.0}], "roads": [],
            "companies": [{"id": "vp", "name": "VP", "state": "BA", "price_per_kwh": 1.5, "color": "#000000",
                           "broker_port": 1, "api_port": 2}],
            "stations": [{"id": "s", "company_id": "vp", "city_id": "a", "name": "S",
                          "points": [{"id": "p", "power_kw": 50, "connector": "CCS_2"}]}]}
    old = parse_network(data)
    assert old.tariff("s") == Tariff(per_kwh=1.5) and old.company("vp").booking_terms == BookingTerms()
    assert old.tariff("s").price(10, 30).to_json() == {"energy": 1500, "charging_time": 0, "idle": 0, "session": 0,
                                                       "reservation": 0, "total": 1500}
    # The packaged file: three companies with their own terms and tariffs, one station with its own.
    assert len({c.booking_terms for c in network.companies}) == 3
    assert network.tariff("vp-salvador-2") != network.company("voltpoint").own_tariff
    assert network.tariff("vp-salvador-1") == network.company("voltpoint").own_tariff


@pytest.fixture
def booked(network, cross_trip):
    """A trip across companies booked five hours ahead."""
    clock = Clock(START - timedelta(hours=5))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    assert reply["status"] == "RESERVED", reply
    return clock, nodes, home, vid, reply


def test_each_stop_is_priced_by_part_before_booking_and_the_trip_is_debited_their_sum(booked, network, cross_trip):
    _, _, home, vid, reply = booked
    for stop in reply["stops"]:
        expected = network.tariff(stop["station_id"]).price(stop["energy_kwh"], stop["charge_minutes"])
        assert stop["price"] == expected.to_json() and stop["cost"] == expected.total / 100
        assert stop["price"]["idle"] == 0  # planned: the car leaves when it is done
    total = sum(s["price"]["total"] for s in reply["stops"])
    assert round(reply["cost"] * 100) == total
    debit = [e for e in home.accounts.view(vid)["statement"] if e["kind"] == "debit"]
    assert [e["amount_cents"] for e in debit] == [-total]
    # The preview (on a network where nothing is booked yet) shows the same figures, and each company's terms.
    fresh = build_nodes(network, Clock(START - timedelta(hours=5)))[0]["voltpoint"]
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)
    vehicle = fresh.planner.vehicle_of(signup(fresh), trip)
    preview = fresh.planner.explain(fresh.planner.plan(trip, vehicle, fresh.planner.exclusions())[0], vehicle)
    assert [s["price"] for s in preview["stops"]] == [s["price"] for s in reply["stops"]]
    assert preview["terms"] == {s["company_id"]: network.company(s["company_id"]).booking_terms.to_json()
                                for s in reply["stops"]}


# -- refunds by terms ------------------------------------------------------------------------------------
def _stops(*deadlines: tuple[str, int]) -> list[dict]:
    return [{"company_id": c, "window_start": (T0 + timedelta(hours=3 * i)).isoformat(),
             "price": Price(energy=cents).to_json()} for i, (c, cents) in enumerate(deadlines)]


TERMS = {"a": BookingTerms(cancel_until_minutes=60), "b": BookingTerms(cancel_until_minutes=120)}


@pytest.mark.parametrize(("now", "refund"), [
    (T0 - timedelta(minutes=60), 3000),  # at the first stop's cancel-until: all of it
    (T0 - timedelta(minutes=60) + timedelta(seconds=1), 2000),  # a second later: not the first stop's part
    (T0 + timedelta(hours=3) - timedelta(minutes=120), 2000),  # at the second stop's cancel-until (120 min)
    (T0 + timedelta(hours=3) - timedelta(minutes=120) + timedelta(seconds=1), 0),  # past both
])
def test_the_refund_follows_each_stops_cancel_until_at_the_boundaries(now, refund):
    stops = _stops(("a", 1000), ("b", 2000))
    assert money.refund_cents(stops, now, TERMS, paid_cents=3000) == refund


def test_a_refund_is_never_above_what_was_paid():
    stops = _stops(("a", 1000), ("b", 2000))
    assert money.refund_cents(stops, T0 - timedelta(days=1), TERMS, paid_cents=2999) == 2999
    assert money.refund_cents(stops, T0 - timedelta(minutes=61), TERMS, paid_cents=1500) == 1500
    assert money.refund_cents([], T0, TERMS, paid_cents=700) == 700  # no stop: nothing to keep


def test_cancelling_a_booked_trip_refunds_by_its_companies_terms(booked, network):
    clock, nodes, home, vid, reply = booked
    deadlines = sorted(datetime.fromisoformat(s["refund_until"]) for s in reply["stops"])
    for stop in reply["stops"]:
        terms = network.company(stop["company_id"]).booking_terms
        assert datetime.fromisoformat(stop["refund_until"]) == datetime.fromisoformat(stop["window_start"]) - \
            timedelta(minutes=terms.cancel_until_minutes)
    clock.now = deadlines[0] + timedelta(seconds=1)  # one stop's part is kept now, at least
    expected = sum(s["price"]["total"] for s in reply["stops"]
                   if clock.now <= datetime.fromisoformat(s["refund_until"]))
    cancelled = home.coordinator.cancel(vid, reply["trip_id"])
    assert cancelled["refund"] == expected / 100 < reply["cost"]
    assert home.accounts.view(vid)["balance"] == pytest.approx(2000 - reply["cost"] + expected / 100)
    assert check(logs(nodes), converged=True) == []


# -- no-show fee ----------------------------------------------------------------------------------------
def _tick(nodes, now: datetime) -> None:
    for node in nodes.values():
        node.participant.record_no_shows(now)
        node.lifecycle.tick(now)


def _fees(home, vid) -> list[dict]:
    return [e for e in home.accounts.view(vid)["statement"] if e["kind"] == "noshow_fee"]


def test_a_missed_stop_is_charged_its_companys_no_show_fee_once(booked, network):
    clock, nodes, home, vid, reply = booked
    before = home.accounts.view(vid)["balance"]
    last = datetime.fromisoformat(reply["stops"][-1]["window_start"])
    for _ in range(3):  # every stop missed; ticks again and again charge nothing more
        clock.now = last + timedelta(minutes=30)
        _tick(nodes, clock.now)
        clock.advance(minutes=5)
    expected = [round(network.company(s["company_id"]).booking_terms.noshow_fee * 100) for s in reply["stops"]]
    fees = _fees(home, vid)
    assert sorted((e["stop"], -e["amount_cents"]) for e in fees) == [(i, f) for i, f in enumerate(expected) if f]
    assert home.accounts.view(vid)["balance"] == pytest.approx(before - sum(expected) / 100)
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "NO_SHOW"
    assert [s["noshow_fee"] for s in shown["stops"]] == [f / 100 if f else None for f in expected]
    # The station's companies count their no-shows and fees.
    for company in {s["company_id"] for s in reply["stops"]}:
        figures = nodes[company].engine.state.figures
        mine = [f for s, f in zip(reply["stops"], expected, strict=True) if s["company_id"] == company]
        assert figures["noshows"] == len(mine) and figures["noshow_fees_cents"] == sum(mine)
    assert check(logs(nodes), converged=True) == []


def test_a_fee_the_credit_cannot_cover_is_owed_never_a_negative_balance(network, cross_trip, booked):
    cost = round(booked[4]["cost"] * 100)
    clock = Clock(START - timedelta(hours=5))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home, credit=cost / 100)  # exactly the trip: nothing left for fees
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    assert reply["status"] == "RESERVED" and home.accounts.view(vid)["balance"] == 0
    clock.now = datetime.fromisoformat(reply["stops"][-1]["window_start"]) + timedelta(minutes=30)
    _tick(nodes, clock.now)
    account = home.accounts.view(vid)
    fees = sum(round(network.company(s["company_id"]).booking_terms.noshow_fee * 100) for s in reply["stops"])
    assert account["balance"] == 0 and account["owed"] == pytest.approx(fees / 100) and fees > 0
    assert all(e["amount_cents"] == 0 and e["owed_cents"] > 0 for e in _fees(home, vid))
    # Credit added later pays what is owed first.
    assert home.accounts.add_credit(vid, 1.0, "c1")["balance"] == 0  # less than the fees: all of it goes to them
    assert home.accounts.view(vid)["owed"] == pytest.approx((fees - 100) / 100)
    assert home.accounts.add_credit(vid, 100.0, "c2")["balance"] == pytest.approx(100 - (fees - 100) / 100)
    account = home.accounts.view(vid)
    paid = [e for e in account["statement"] if e["kind"] == "owed_paid"]
    assert [e["amount_cents"] for e in paid] == [-100, -(fees - 100)] and paid[-1]["owed_cents"] == 0
    assert account["owed"] == 0
    assert check(logs(nodes), converged=True) == []
    again = ev.to_new(ev.OwedFeesPaid(vehicle_id=vid, amount_cents=100))  # paid twice: the checker says so
    assert {v.invariant for v in check(_doctored(nodes, "voltpoint", StreamAppend(account_stream(vid), (again,))))} \
        == {"noshow-fee-once"}


# -- charge detail records --------------------------------------------------------------------------------
def test_a_finished_charge_is_recorded_priced_by_what_happened_and_shown_in_the_statement(booked, network):
    clock, nodes, home, vid, reply = booked
    stop = reply["stops"][0]
    opens = datetime.fromisoformat(stop["window_start"])
    clock.now = opens + timedelta(minutes=5)
    home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    point_kw = next(p.power_kw for p in network.station(stop["station_id"]).points if p.id == stop["point_id"])
    energy = round(point_kw / 6, 3)  # ten minutes' worth at the point's power
    drawing = 60.0 * energy / point_kw
    # Left on the point 12 min past its window's end and the late-stop grace.
    terms = network.company(stop["company_id"]).booking_terms
    clock.now = datetime.fromisoformat(stop["window_end"]) + timedelta(minutes=terms.late_stop_minutes + 12)
    started = opens + timedelta(minutes=5)
    done = home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="finish",
                                                    energy_kwh=energy))
    cdr = done["cdr"]
    assert cdr["energy_kwh"] == energy and cdr["started_at"] == started.isoformat()
    assert cdr["finished_at"] == clock.now.isoformat()
    assert cdr["charge_minutes"] == pytest.approx(drawing, abs=1e-3) and cdr["idle_minutes"] == pytest.approx(12)
    tariff = network.tariff(stop["station_id"])
    assert cdr["price"] == tariff.price(energy, cdr["charge_minutes"], cdr["idle_minutes"]).to_json()
    assert cdr["price"]["idle"] == round(12 * tariff.per_minute_idle * 100) and done["cost_cents"] == \
        cdr["price"]["total"]
    # A repeated finish answers the same record and records nothing more.
    again = home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="finish"))
    assert again["cdr"] == cdr
    charges = [e for e in home.accounts.view(vid)["statement"] if e["kind"] == "charge"]
    assert len(charges) == 1 and charges[0]["amount_cents"] == 0 and charges[0]["charge"]["price"] == cdr["price"]
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert [c["stop"] for c in shown["charges"]] == [0] and shown["charges"][0]["company_id"] == stop["company_id"]
    figures = nodes[stop["company_id"]].engine.state.figures
    assert figures["sessions"] == 1 and figures["energy_kwh"] == energy
    assert figures["revenue_cents"] == cdr["price"]
    assert check(logs(nodes), converged=True) == []


def test_charging_in_the_window_and_leaving_within_the_grace_is_never_idle():
    tariff, terms = Tariff(per_kwh=2.0, per_minute_idle=1.0), BookingTerms(late_stop_minutes=10)
    end = T0 + timedelta(hours=1)
    record = money.charge_record(tariff, terms, started_at=T0, finished_at=end + timedelta(minutes=10),
                                 energy_kwh=25.0, power_kw=50.0, window_end=end)
    assert (record.charge_minutes, record.idle_minutes, record.price.idle) == (30.0, 0.0, 0)
    late = money.charge_record(tariff, terms, started_at=T0, finished_at=end + timedelta(minutes=25),
                               energy_kwh=25.0, power_kw=50.0, window_end=end)
    assert (late.idle_minutes, late.price.idle, late.price.energy) == (15.0, 1500, 5000)


# -- the checker -------------------------------------------------------------------------------------------
def _doctored(nodes, company: str, *appends: StreamAppend) -> dict:
    found = logs(nodes)
    store = InMemoryEventStore()
    for e in found[company]:
        store.append_streams([StreamAppend(e.stream_id, (NewEvent(e.type, e.data),))])
    for a in appends:
        store.append_streams([a])
    return {**found, company: list(store.iter_all())}


def test_the_checker_finds_a_second_no_show_fee_and_a_charge_record_for_a_stop_never_reserved(booked):
    clock, nodes, home, vid, reply = booked
    clock.now = datetime.fromisoformat(reply["stops"][-1]["window_start"]) + timedelta(minutes=30)
    _tick(nodes, clock.now)
    fee = next(e for e in home.store.read_stream(account_stream(vid)) if e.type == ev.NoShowFeeCharged.NAME)
    twice = _doctored(nodes, "voltpoint", StreamAppend(account_stream(vid), (NewEvent(fee.type, fee.data),)))
    assert {v.invariant for v in check(twice)} == {"noshow-fee-once"}
    ghost = ev.to_new(ev.TripStopCharged(trip_id="t-never", stop=0, company_id="voltpoint", station_id="s",
                                         point_id="p", energy_kwh=1.0, started_at=T0.isoformat(),
                                         finished_at=T0.isoformat(), charge_minutes=1.0, idle_minutes=0.0,
                                         price=Price(energy=100).to_json()))
    aborted = ev.to_new(ev.TripRequested(trip_id="t-never", vehicle_id=vid, request_id="x", attempt=1,
                                         priority=T0.isoformat(), plan={"stops": []}, participants=[],
                                         stops_by_company={}, cost_cents=0, cost_by_company_cents={}))
    unreserved = _doctored(nodes, "voltpoint", StreamAppend(trip_stream("t-never"), (aborted, ghost)))
    assert {v.invariant for v in check(unreserved)} == {"cdr-reserved"}
