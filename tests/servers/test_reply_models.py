"""The reply models fit what the services really build, in one process on in-memory logs: the answers a live
network rarely gives on demand — a booking refused after every re-plan, with free points and whole plans
offered — and every kind of vote, decision and check-in of a participant."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from pydantic import TypeAdapter

from contract.models import (
    AccountOut,
    BookingRefusedOut,
    CheckInIn,
    CheckInOut,
    DecisionOut,
    ItineraryOut,
    OccupancyOut,
    PrepareIn,
    ReservationOut,
    StateAtOut,
    StationAvailabilityOut,
    StopIn,
    TripIn,
    VoteOut,
)
from servers.service import views
from tests.servers.fakes import START, Clock, build_nodes, signup

VOTE = TypeAdapter(VoteOut)


def test_a_booking_refused_at_every_attempt_offers_free_points_and_plans_in_the_refusal_shape(network):
    nodes, _ = build_nodes(network, Clock(START))
    # VoltPoint's points are all out of order but one station's, far inland; E-Flux's coordinator has not heard
    # (the pictures are not synced), so its prepares there are refused, each offering the points still free.
    stations = network.stations_of("voltpoint")
    spare = stations[-1]
    for station in stations[:-1]:
        for point in station.points:
            nodes["voltpoint"].participant.set_point_status(point.id, "OUT_OF_ORDER", "test")
    home = nodes["eflux"]
    reply = home.coordinator.book(signup(home), "r", TripIn(origin="salvador", destination="fortaleza",
                                                            departure=START))
    refused = BookingRefusedOut.model_validate(views.refusal_error(reply))
    assert refused.code == "POINT_TAKEN" and refused.details.status == "REJECTED"
    assert refused.details.alternatives.points and refused.details.alternatives.plans
    assert {p.station_id for p in refused.details.alternatives.points} == {spare.id}


def test_a_confirmed_trip_fits_the_itinerary_account_reservation_and_log_models(network, cross_trip):
    clock = Clock(START - timedelta(hours=3))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    ItineraryOut.model_validate(reply)
    home.coordinator.cancel(vid, reply["trip_id"])
    ItineraryOut.model_validate(home.trips.trip_of(vid, reply["trip_id"]))
    TypeAdapter(list[ReservationOut]).validate_python(home.trips.reservations_of(vid))
    account = AccountOut.model_validate(home.accounts.view(vid))
    assert [e.kind for e in account.statement] == ["credit", "debit", "refund"]
    StateAtOut.model_validate(views.state_at(home.store, network, "voltpoint", None, None))


def test_every_vote_decision_and_check_in_of_a_participant_fits_its_model(network):
    nodes, _ = build_nodes(network, Clock(START))
    node = nodes["ecocharge"]
    station = network.stations_of("ecocharge")[0]
    fastest = max(p.power_kw for p in station.points)

    def prepare(trip_id: str, min_power_kw: float = 0) -> dict:
        stop = StopIn(stop=0, station_id=station.id, start=START, end=START + timedelta(hours=1),
                      min_power_kw=min_power_kw, energy_kwh=10)
        vote = node.participant.prepare(PrepareIn(trip_id=trip_id, coordinator="voltpoint", priority=START,
                                                  stops=[stop]))
        return msgspec.to_builtins(vote)  # as the peer route sends it

    assert VOTE.validate_python(prepare("t1")).vote == "yes"
    no = VOTE.validate_python(prepare("t2", min_power_kw=fastest + 1))
    assert no.vote == "no" and no.conflicts and no.alternatives
    DecisionOut.model_validate(node.participant.commit("t1"))
    for action in ("start", "finish", "finish"):
        CheckInOut.model_validate(node.participant.check_in(CheckInIn(trip_id="t1", stop=0, action=action)))
    StationAvailabilityOut.model_validate(node.participant.availability(station.id, START, START + timedelta(hours=2)))
    OccupancyOut.model_validate(node.feed.snapshot().to_json())
    DecisionOut.model_validate(node.participant.release("t1"))
    over = VOTE.validate_python(prepare("t1"))
    assert over.vote == "no" and over.code == "TRIP_OVER"
    DecisionOut.model_validate(node.participant.abort("never-here"))
