"""A charger fails: its future reservations move by themselves — to another point of the station, else the trip
is re-booked from the stop before (a two-phase transaction over the changed stops) — and the driver is told."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.models import CheckInIn, NoticeIn, PrepareIn, StopIn
from federation.invariants import check
from servers.bookings import events as ev
from servers.bookings.errors import DomainError
from servers.service.participant import hold_stream
from tests.servers.fakes import START, Clock, Node, build_nodes, deliver_notices, logs

DEPARTURE = START + timedelta(hours=2)  # the `booked` trip's (tests/servers/conftest.py)


def _abroad(reply: dict, home: str = "voltpoint") -> dict:
    return next(s for s in reply["stops"] if s["company_id"] != home)


def _with_a_spare_point(reply: dict, network) -> dict:
    """A stop whose station has another point at least as fast as the one reserved."""
    for stop in reply["stops"]:
        points = network.station(stop["station_id"]).points
        power = next(p.power_kw for p in points if p.id == stop["point_id"])
        others = [p for p in points if p.id != stop["point_id"] and p.power_kw >= power]
        if others:
            return stop
    raise AssertionError("no stop of the trip has a spare point")


def _fill_station(owner: Node, network, stop: dict, but: str) -> None:
    """Reserve every other point of the stop's station for its window (other drivers' trips)."""
    for n, point in enumerate(network.station(stop["station_id"]).points):
        if point.id == but:
            continue
        req = PrepareIn(trip_id=f"other-{n}", coordinator="eflux", priority=START,
                        stops=[StopIn(stop=0, station_id=stop["station_id"], start=stop["window_start"],
                                      end=stop["window_end"], min_power_kw=0, energy_kwh=5)])
        assert isinstance(owner.participant.prepare(req), ev.Yes)
        owner.participant.commit(f"other-{n}")


def _last(node: Node, stream: str) -> ev.Event:
    return ev.parse(node.store.read_stream(stream)[-1])


def test_a_failed_point_moves_its_reservation_within_the_station_and_the_driver_is_told(booked, network):
    clock, nodes, _, home, vid, reply = booked
    stop = _with_a_spare_point(reply, network)
    owner = nodes[stop["company_id"]]
    owner.participant.set_point_status(stop["point_id"], "OUT_OF_ORDER", "screen broken")
    moved = _last(owner, hold_stream(reply["trip_id"]))
    assert isinstance(moved, ev.HoldMoved) and moved.from_point_id == stop["point_id"]
    assert moved.point_id != stop["point_id"] and moved.reason == "BROKEN_CHARGER"
    assert network.point_owner(moved.point_id).id == stop["station_id"]  # the same station
    assert deliver_notices(nodes) == 1 and deliver_notices(nodes) == 0  # told once
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["stops"][stop["stop"]]["point_id"] == moved.point_id and shown["status"] == "RESERVED"
    assert [n["kind"] for n in shown["notices"]] == ["MOVED"] and shown["broken_stops"] == []
    clock.now = datetime.fromisoformat(stop["window_start"])
    started = home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=stop["stop"], action="start"))
    assert started["point_id"] == moved.point_id
    assert check(logs(nodes), converged=True) == []


def test_a_station_with_no_other_point_free_gets_the_trip_re_booked_from_the_stop_before(booked, network):
    clock, nodes, peers, home, vid, reply = booked
    stop = _abroad(reply)
    owner = nodes[stop["company_id"]]
    _fill_station(owner, network, stop, but=stop["point_id"])
    paid = home.accounts.view(vid)["balance"]
    owner.participant.set_point_status(stop["point_id"], "INOPERATIVE")
    assert isinstance(_last(owner, hold_stream(reply["trip_id"])), ev.HoldBroken)
    deliver_notices(nodes)
    assert home.trips.trip_of(vid, reply["trip_id"])["broken_stops"] == [stop["stop"]]
    assert peers.run(home.coordinator.real.rebooking.rebook(reply["trip_id"])) == "REBOOKED"
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "RESERVED" and shown["broken_stops"] == []
    assert [n["kind"] for n in shown["notices"]] == ["BROKEN", "REBOOKED"]
    k = stop["stop"]
    assert shown["stops"][k]["station_id"] != stop["station_id"] or shown["stops"][k]["point_id"] != stop["point_id"]
    assert shown["stops"][:k] == [{**s, "status": "RESERVED"} for s in reply["stops"][:k]]  # kept as they were
    # The old stops are released where they were, the new ones reserved under the re-booking's id.
    part = owner.engine.state.participations.get(reply["trip_id"])
    assert part is None or all(h.charging == "RELEASED" for h in part.holds if h.stop >= k)
    amendment = f"{reply['trip_id']}~1"
    for company in {s["company_id"] for s in shown["stops"][k:]}:
        assert nodes[company].engine.state.participations[amendment].status == "CONFIRMED"
    difference = shown["notices"][-1]["price_difference"]
    assert home.accounts.view(vid)["balance"] == pytest.approx(paid - difference)
    assert shown["cost"] == pytest.approx(reply["cost"] + difference)
    clock.now = datetime.fromisoformat(shown["stops"][k]["window_start"])  # a re-booked stop checks in
    started = home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=k, action="start"))
    assert started["trip_id"] == reply["trip_id"] and started["point_id"] == shown["stops"][k]["point_id"]
    assert check(logs(nodes), converged=True) == []


def test_when_nothing_fits_the_trip_keeps_its_reservations_and_cancels_with_a_full_refund(booked, network):
    _, nodes, peers, home, vid, reply = booked
    stop = _abroad(reply)
    owner = nodes[stop["company_id"]]
    _fill_station(owner, network, stop, but=stop["point_id"])
    peers.down.update(c for c in nodes if c not in ("voltpoint", stop["company_id"]))  # nowhere else answers
    owner.participant.set_point_status(stop["point_id"], "OUT_OF_ORDER")
    deliver_notices(nodes)
    held = {c: set(n.engine.state.occupancy) for c, n in nodes.items()}
    outcome = peers.run(home.coordinator.real.rebooking.rebook(reply["trip_id"]))
    assert outcome == "NOT_REBOOKED"
    shown = home.trips.trip_of(vid, reply["trip_id"])
    assert shown["status"] == "RESERVED" and shown["broken_stops"] == [stop["stop"]]
    assert [n["kind"] for n in shown["notices"]] == ["BROKEN", "NOT_REBOOKED"]
    assert {c: set(n.engine.state.occupancy) for c, n in nodes.items()} == held  # nothing released
    peers.down.clear()
    cancelled = home.coordinator.cancel(vid, reply["trip_id"])
    assert cancelled["refund"] == pytest.approx(reply["cost"])  # in full: the charger failed, not the driver
    assert check(logs(nodes), converged=True) == []


def test_a_point_back_in_service_is_bookable_again(network):
    nodes, _ = build_nodes(network, Clock(START))
    owner = nodes["eflux"]
    station = network.stations_of("eflux")[0]
    stop = StopIn(stop=0, station_id=station.id, start=DEPARTURE, end=DEPARTURE + timedelta(hours=1),
                  min_power_kw=0, energy_kwh=5)
    for point in station.points:
        owner.participant.set_point_status(point.id, "OUT_OF_ORDER")
    refused = owner.participant.prepare(PrepareIn(trip_id="a", coordinator="voltpoint", priority=START, stops=[stop]))
    assert isinstance(refused, ev.No) and refused.code == "POINT_TAKEN"
    owner.participant.set_point_status(station.points[0].id, "AVAILABLE")
    held = owner.participant.prepare(PrepareIn(trip_id="b", coordinator="voltpoint", priority=START, stops=[stop]))
    assert isinstance(held, ev.Yes) and held.holds[0].point_id == station.points[0].id


def test_a_company_cannot_speak_of_a_stop_it_does_not_hold(booked):
    _, nodes, _, home, vid, reply = booked
    stop = _abroad(reply)
    stranger = next(c for c in nodes if c not in (stop["company_id"],))
    forged = NoticeIn(trip_id=reply["trip_id"], hold_id=reply["trip_id"], stop=stop["stop"], kind="BROKEN",
                      point_id=stop["point_id"], reason="BROKEN_CHARGER")
    with pytest.raises(DomainError) as refused:
        home.coordinator.real.notice(stranger, forged)
    assert (refused.value.code, refused.value.status) == ("NOT_YOUR_STOP", 403)
    assert home.trips.trip_of(vid, reply["trip_id"])["broken_stops"] == []


def test_the_checker_finds_a_reservation_left_on_a_failed_point(booked):
    _, nodes, _, _, _, reply = booked
    stop = _abroad(reply)
    owner = nodes[stop["company_id"]]
    # The status recorded, the reservations not dealt with (as a server without charger-fault handling would).
    failed = ev.PointStatusChanged(point_id=stop["point_id"], status="OUTOFORDER")
    owner.engine.execute(lambda s: ([ev.append(f"point:{stop['point_id']}", failed)], None))
    found = [v for v in check(logs(nodes), converged=True) if v.invariant == "fault-rebooked"]
    assert len(found) == 1 and stop["point_id"] in found[0].message
    owner.participant.handle_faults(owner.engine.clock())
    deliver_notices(nodes)
    assert check(logs(nodes), converged=True) == []
