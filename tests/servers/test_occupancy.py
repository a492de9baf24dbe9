"""A coordinator's picture of other companies' points: the occupancy feed, its mirror, and planning around it."""

from __future__ import annotations

from datetime import timedelta

from contract.models import PrepareIn, StopIn, TripIn
from federation.invariants import check
from servers.bookings.events import Vote, Yes
from servers.bookings.occupancy import Changes, OccupancyMirror
from tests.servers.fakes import START, Clock, build_nodes, logs, signup, sync_pictures


def hold(node, trip_id: str, station_id: str, hours: float) -> Vote:
    stop = StopIn(stop=0, station_id=station_id, start=START + timedelta(hours=hours),
                  end=START + timedelta(hours=hours + 1), min_power_kw=0, energy_kwh=5)
    return node.participant.prepare(PrepareIn(trip_id=trip_id, coordinator="voltpoint", priority=START, stops=[stop]))


def test_a_mirror_that_follows_the_feed_shows_what_the_participant_holds(network):
    nodes, _ = build_nodes(network, Clock(START))
    eflux = nodes["eflux"]
    station = network.stations_of("eflux")[0]
    mirror = OccupancyMirror()
    mirror.apply(eflux.feed.since(-1))  # a new follower: the whole picture (empty)
    for i in range(3):
        assert isinstance(hold(eflux, f"t{i}", station.id, hours=2 * i), Yes)
    eflux.participant.abort("t1")
    eflux.participant.set_point_status(station.points[-1].id, "OUT_OF_ORDER")
    changes = eflux.feed.since(mirror.seq)
    assert not changes.reset and len(changes.added) == 2 and changes.removed == []  # t1 came and went
    mirror.apply(Changes.from_json(changes.to_json()))  # as it travels, JSON
    eflux.participant.abort("t2")  # a release the mirror has seen the hold of
    later = eflux.feed.since(mirror.seq)
    assert later.added == [] and [w.key for w in later.removed] == ["t2#0"]
    mirror.apply(later)
    expected = {p: sorted((h.span[0], h.span[1], h.key) for h in holds.values())
                for p, holds in eflux.engine.state.occupancy.items()}
    assert {p: sorted(w.items) for p, w in mirror.windows.items() if w.items} == expected
    assert mirror.status == {station.points[-1].id: "OUTOFORDER"}
    # A follower that starts now gets the same picture in one reset.
    fresh = OccupancyMirror()
    fresh.apply(eflux.feed.since(-1))
    assert {p: sorted(w.items) for p, w in fresh.windows.items()} == expected and fresh.status == mirror.status


def test_a_station_the_picture_shows_full_is_planned_around_without_a_prepare(network, cross_trip):
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START + timedelta(hours=1))
    plan = home.planner.plan(trip, home.planner.vehicle_of(vid, trip), home.planner.exclusions())[0]
    remote = next(s for s in plan.stops if s.company_id != "voltpoint")
    station = network.station(remote.station_id)
    owner = nodes[remote.company_id]
    for n, point in enumerate(station.points):  # someone else took every point of that stop's station then
        stop = StopIn(stop=0, station_id=station.id, start=remote.window_start - timedelta(hours=1),
                      end=remote.window_end + timedelta(hours=1), min_power_kw=point.power_kw, energy_kwh=5)
        owner.participant.prepare(PrepareIn(trip_id=f"other{n}", coordinator="voltpoint", priority=START,
                                            stops=[stop]))
        owner.participant.commit(f"other{n}")
    sync_pictures(nodes)
    peers.calls.clear()
    reply = home.coordinator.book(vid, "r", trip)
    assert reply["status"] == "RESERVED", reply
    assert station.id not in {s["station_id"] for s in reply["stops"]}
    refused = [c for c in peers.calls if c[1] == "prepare"]
    assert len(refused) == len({s["company_id"] for s in reply["stops"]})  # one prepare each, none refused
    assert check(logs(nodes), converged=True) == []


def test_when_everything_on_the_way_is_taken_the_refusal_needs_no_prepare_and_offers_later_trips(network,
                                                                                                 cross_trip):
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START + timedelta(hours=1))
    # Every point of every station is taken for the first six hours: the car cannot charge on its way then.
    for company, node in nodes.items():
        for station in network.stations_of(company):
            for n, point in enumerate(station.points):
                stop = StopIn(stop=0, station_id=station.id, start=START, end=START + timedelta(hours=6),
                              min_power_kw=point.power_kw, energy_kwh=5)
                node.participant.prepare(PrepareIn(trip_id=f"x-{station.id}-{n}", coordinator=company,
                                                   priority=START, stops=[stop]))
    sync_pictures(nodes)
    peers.calls.clear()
    reply = home.coordinator.book(vid, "r", trip)
    assert reply["status"] == "REJECTED" and reply["code"] == "POINT_TAKEN", reply
    assert [c for c in peers.calls if c[1] == "prepare"] == []  # refused by the planner, nobody asked
    later = reply["alternatives"]["plans"]
    assert later and all(p["departure"] > trip.departure.isoformat() for p in later)
    assert all({"arrival", "cost", "stops"} <= set(p) for p in later)


def test_a_company_whose_feed_does_not_answer_is_planned_around_and_named(network, cross_trip):
    nodes, peers = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START + timedelta(hours=1))
    for company in ("eflux", "ecocharge"):
        home.availability.peer(company).reachable = False
    reply = home.coordinator.book(vid, "r", trip)
    if reply["status"] == "RESERVED":  # a plan exists on VoltPoint's stations alone
        assert {s["company_id"] for s in reply["stops"]} == {"voltpoint"}
    else:
        assert reply["code"] == "PEER_UNAVAILABLE" and reply["company"] in ("eflux", "ecocharge")
        assert "not answering" in reply["reason"]
    assert [c for c in peers.calls if c[0] != "voltpoint" and c[1] == "prepare"] == []
