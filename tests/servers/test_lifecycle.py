"""A booking's life by OCPI 2.3.0's names: RESERVED, then FULFILLED, NO_SHOW or CANCELED; refusals REJECTED, FAILED."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.models import CheckInIn, TripIn
from federation.invariants import check
from servers.bookings import events as ev
from servers.bookings.errors import Conflict, DomainError
from servers.bookings.events import CanceledReason
from servers.bookings.state import FOLD
from servers.service.requests import in_todays_words
from servers.service.trips import trip_stream
from tests.servers.fakes import START, Clock, build_nodes, logs, signup

TERMS = 15  # the companies' no-show timeout in the network file's default terms (minutes)


def _opens(stop: dict) -> datetime:
    return datetime.fromisoformat(stop["window_start"])


def _tick(nodes, now: datetime) -> None:
    for node in nodes.values():
        node.participant.record_no_shows(now)
        node.lifecycle.tick(now)


def test_a_booked_trip_and_its_stops_are_reserved_and_a_driven_one_ends_fulfilled(booked):
    clock, nodes, _, home, vid, reply = booked
    assert {s["status"] for s in reply["stops"]} == {"RESERVED"} and reply["canceled"] is None
    for stop in reply["stops"]:
        clock.now = _opens(stop) + timedelta(minutes=5)
        for action in ("start", "finish"):
            home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=stop["stop"], action=action))
        shown = home.trips.trip_of(vid, reply["trip_id"])
        assert shown["stops"][stop["stop"]]["status"] == "FULFILLED"
        assert shown["status"] == "RESERVED"  # not over until every stop is
    _tick(nodes, clock.now)
    assert home.trips.trip_of(vid, reply["trip_id"])["status"] == "FULFILLED"
    ended = [ev.parse(e) for e in home.store.read_stream(trip_stream(reply["trip_id"]))][-1]
    assert isinstance(ended, ev.TripEnded) and ended.status == "FULFILLED"
    assert check(logs(nodes), converged=True) == []


def test_a_stop_not_begun_by_the_timeout_is_a_no_show_its_point_freed_and_a_late_check_in_refused(booked):
    clock, nodes, _, home, vid, reply = booked
    first = reply["stops"][0]
    owner = nodes[first["company_id"]]
    clock.now = _opens(first) + timedelta(minutes=TERMS)
    with pytest.raises(DomainError) as late:  # the station's company refuses it even before its tick has run
        home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    assert (late.value.code, late.value.status) == ("NO_SHOW", 409)
    _tick(nodes, clock.now)
    assert first["point_id"] not in owner.engine.state.occupancy  # free again at the station's company
    assert home.trips.trip_of(vid, reply["trip_id"])["stops"][0]["status"] == "RESERVED"  # the grace: not yet
    clock.advance(minutes=3)
    _tick(nodes, clock.now)
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["stops"][0]["status"] == "NO_SHOW" and shown["status"] == "RESERVED"
    with pytest.raises(Conflict) as again:
        home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    assert again.value.code == "NO_SHOW"
    clock.now = _opens(reply["stops"][-1]) + timedelta(minutes=TERMS + 3)  # every later stop missed too
    _tick(nodes, clock.now)
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "NO_SHOW" and {s["status"] for s in shown["stops"]} == {"NO_SHOW"}
    assert check(logs(nodes), converged=True) == []


def test_a_trip_charged_at_one_stop_and_missed_at_the_others_ends_fulfilled(booked):
    clock, nodes, _, home, vid, reply = booked
    clock.now = _opens(reply["stops"][0])
    home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    clock.now = _opens(reply["stops"][-1]) + timedelta(minutes=TERMS + 3)
    _tick(nodes, clock.now)
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "FULFILLED"
    assert [s["status"] for s in shown["stops"]] == ["FULFILLED"] + ["NO_SHOW"] * (len(shown["stops"]) - 1)


def test_a_cancel_carries_ocpis_reason_who_and_the_drivers_words(booked):
    _, _, _, home, vid, reply = booked
    cancelled = home.coordinator.cancel(vid, reply["trip_id"], CanceledReason.BROKEN_VEHICLE, "alternator died")
    assert cancelled["status"] == "CANCELED" and cancelled["cancellation_reason"] == "BROKEN_VEHICLE"
    assert cancelled["who_canceled"] == "EMSP" and cancelled["reason"] == "alternator died"
    assert home.coordinator.cancel(vid, reply["trip_id"]) == cancelled  # again: the same answer
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "CANCELED" and {s["status"] for s in shown["stops"]} == {"CANCELED"}
    assert shown["canceled"] == {"cancellation_reason": "BROKEN_VEHICLE", "who_canceled": "EMSP"}
    state = FOLD.from_json(FOLD.to_json(home.engine.state))  # a snapshot keeps it
    assert state.trips[reply["trip_id"]].cancellation_reason == "BROKEN_VEHICLE"


def test_a_refusal_is_rejected_and_an_error_failed(network, cross_trip):
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    poor = signup(home, 1, credit=0.0)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START + timedelta(hours=2))
    refused = home.coordinator.book(poor, "r1", trip)
    assert (refused["status"], refused["code"]) == ("REJECTED", "INSUFFICIENT_CREDIT")
    peers.down.update(c for c in nodes if c != "voltpoint")
    failed = home.coordinator.book(signup(home, 2), "r2", trip)
    assert failed["status"] in ("FAILED", "REJECTED")
    if failed["code"] == "PEER_UNAVAILABLE":
        assert failed["status"] == "FAILED"


def test_answers_recorded_before_the_rename_read_in_todays_words():
    assert in_todays_words({"status": "CONFIRMED", "trip_id": "t"})["status"] == "RESERVED"
    assert in_todays_words({"status": "REFUSED", "code": "POINT_TAKEN"})["status"] == "REJECTED"
    assert in_todays_words({"status": "REFUSED", "code": "PEER_UNAVAILABLE"})["status"] == "FAILED"


def test_the_checker_finds_a_trip_ended_no_show_though_charged_and_a_missed_stop_that_charged(booked):
    clock, nodes, _, home, vid, reply = booked
    clock.now = _opens(reply["stops"][0])
    home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    # A coordinator that got it wrong: the stop that charged recorded missed, the trip ended NO_SHOW at once.
    lies = [ev.TripStopMissed(trip_id=reply["trip_id"], stop=1), ev.TripEnded(trip_id=reply["trip_id"],
                                                                               status=ev.BookingStatus.NO_SHOW)]
    home.engine.execute(lambda s: ([ev.append(trip_stream(reply["trip_id"]), *lies)], None))
    nodes[reply["stops"][1]["company_id"]].participant.check_in(
        CheckInIn(trip_id=reply["trip_id"], stop=1, action="start"))  # yet it began charging there
    messages = [v.message for v in check(logs(nodes), converged=True) if v.invariant == "lifecycle"]
    assert any("recorded NO_SHOW but began charging" in m for m in messages)
    assert any("not over" in m for m in messages) and any("ended NO_SHOW with 1 of" in m for m in messages)
