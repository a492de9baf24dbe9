"""What a booking request may ask (issue #11, items 2–6): departures, one car on one trip at a time, request ids."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from contract.models import TripIn
from federation.invariants import check
from servers.bookings.errors import DomainError
from tests.servers.fakes import START, Clock, build_nodes, logs, signup


def trip(cross_trip: tuple[str, str], departure: datetime | str | None) -> TripIn:
    return TripIn.model_validate({"origin": cross_trip[0], "destination": cross_trip[1], "departure": departure})


def test_a_departure_in_the_past_is_refused_and_nothing_is_held_or_debited(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)
    head = home.store.head()
    for past in (START - timedelta(minutes=6), datetime.fromisoformat("2020-01-01T00:00:00+00:00")):
        with pytest.raises(DomainError) as refused:
            home.coordinator.book(vid, f"r{past:%Y}", trip(cross_trip, past))
        assert refused.value.code == "DEPARTURE_IN_PAST" and refused.value.status == 422
        with pytest.raises(DomainError) as preview:
            home.planner.plan(trip(cross_trip, past), home.planner.vehicle_of(vid, trip(cross_trip, None)),
                                  home.planner.exclusions())
        assert preview.value.code == "DEPARTURE_IN_PAST"
    assert home.store.head() == head  # nothing recorded, nothing held, nothing debited
    assert all(not n.engine.state.occupancy for n in nodes.values())
    assert home.accounts.view(vid)["balance"] == 2000.0
    # "Now", sent a little late, is still now.
    ok = home.coordinator.book(vid, "now", trip(cross_trip, START - timedelta(minutes=4)))
    assert ok["status"] == "RESERVED"


def test_a_departure_beyond_a_year_is_refused_before_planning(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["eflux"]
    vid = signup(home)
    for far in ("9999-12-31T23:00:00Z", START + timedelta(days=366)):
        with pytest.raises(DomainError) as refused:
            home.coordinator.book(vid, "far", trip(cross_trip, far))
        assert refused.value.code == "DEPARTURE_TOO_FAR" and refused.value.status == 422


def test_a_departure_without_a_time_zone_is_taken_as_utc(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)
    naive = trip(cross_trip, (START + timedelta(hours=2)).replace(tzinfo=None).isoformat())
    assert naive.departure == START + timedelta(hours=2)
    reply = home.coordinator.book(vid, "naive", naive)
    assert reply["plan"]["departure"].endswith("+00:00")
    assert all(s["window_start"].endswith("+00:00") and s["arrive_at"].endswith("+00:00") for s in reply["stops"])
    # Another zone is converted: 10:00 in Bahia (UTC-3) is 13:00 UTC.
    assert trip(cross_trip, "2026-12-01T10:00:00-03:00").departure == START.replace(hour=13)


def test_one_car_cannot_be_booked_on_two_overlapping_trips(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home, credit=5000.0)
    first = home.coordinator.book(vid, "a", trip(cross_trip, START + timedelta(hours=1)))
    assert first["status"] == "RESERVED"
    arrival = datetime.fromisoformat(first["plan"]["arrival"])
    second = home.coordinator.book(vid, "b", trip(cross_trip[::-1], START + timedelta(hours=2)))
    assert second["status"] == "REJECTED" and second["code"] == "TRIP_OVERLAPS"
    assert first["trip_id"] in second["reason"] and second["overlaps"]["trip_id"] == first["trip_id"]
    later = home.coordinator.book(vid, "c", trip(cross_trip[::-1], arrival + timedelta(minutes=30)))
    assert later["status"] == "RESERVED"
    # Cancelled, the first trip no longer blocks the car.
    home.coordinator.cancel(vid, first["trip_id"])
    again = home.coordinator.book(vid, "d", trip(cross_trip, START + timedelta(hours=1)))
    assert again["status"] == "RESERVED"
    assert check(logs(nodes), converged=True) == []


def test_a_request_id_reused_for_another_operation_is_refused_and_runs_nothing(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["ecocharge"]
    vid = signup(home)
    assert home.accounts.add_credit(vid, 10.0, "same")["added"] == 10.0
    head = home.store.head()
    with pytest.raises(DomainError) as reused:
        home.coordinator.book(vid, "same", trip(cross_trip, START + timedelta(hours=1)))
    assert reused.value.code == "REQUEST_ID_REUSED" and reused.value.details["op"] == "add_credit"
    assert home.store.head() == head and all(not n.engine.state.occupancy for n in nodes.values())
    booked = home.coordinator.book(vid, "other", trip(cross_trip, START + timedelta(hours=1)))
    with pytest.raises(DomainError) as reused_again:
        home.accounts.add_credit(vid, 10.0, "other")
    assert reused_again.value.code == "REQUEST_ID_REUSED" and reused_again.value.details["op"] == "book"
    assert home.accounts.view(vid)["balance"] == pytest.approx(2010.0 - booked["cost"])


@pytest.mark.parametrize("first", ["book", "credit"])
def test_a_book_and_a_credit_sent_at_once_with_one_id_run_one_of_them(network, cross_trip, first):
    nodes, peers = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)

    async def book() -> object:
        return await home.coordinator.real.book(vid, "x", trip(cross_trip, START + timedelta(hours=1)))

    async def credit() -> object:
        return home.accounts.real.add_credit(vid, 50.0, "x")

    async def both() -> list[object]:
        calls = [book(), credit()] if first == "book" else [credit(), book()]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return results if first == "book" else results[::-1]

    booked, credited = peers.run(both())
    if first == "book":  # the booking claimed the id first: the credit is refused while it runs
        assert isinstance(credited, DomainError) and credited.code == "REQUEST_ID_REUSED"
        assert credited.details["op"] == "book"
        assert booked["status"] == "RESERVED"  # type: ignore[index]
        assert [e["kind"] for e in home.accounts.view(vid)["statement"]] == ["credit", "debit"]
        held = {booked["trip_id"]}  # type: ignore[index]
    else:  # the credit answered first: the booking is refused before it plans or holds anything
        assert isinstance(booked, DomainError) and booked.code == "REQUEST_ID_REUSED"
        assert booked.details["op"] == "add_credit"
        assert credited == {"balance": 2050.0, "added": 50.0}
        assert [e["kind"] for e in home.accounts.view(vid)["statement"]] == ["credit", "credit"]
        held = set()
    # No hold is stranded: every company has only the booked trip's points, or none.
    assert {t for n in nodes.values() for t in n.engine.state.participations} == held
    assert check(logs(nodes), converged=True) == []


def test_a_decision_that_cannot_be_recorded_aborts_with_that_reason_and_frees_the_holds(network, cross_trip,
                                                                                        monkeypatch):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)

    def failing(trip_id: str, votes: dict, state: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(home.coordinator.real, "_decide", failing)
    with pytest.raises(RuntimeError):
        home.coordinator.book(vid, "r", trip(cross_trip, START + timedelta(hours=1)))
    monkeypatch.undo()
    aborted = [e for e in home.store.iter_all() if e.type == "TripAborted"]
    assert [e.data["code"] for e in aborted] == ["DECISION_FAILED"]
    assert "disk on fire" in aborted[0].data["reason"]
    assert all(not n.engine.state.occupancy for n in nodes.values())
    assert check(logs(nodes), converged=True) == []
