"""The priority rule (wound-wait): a trip that asked earlier gets a point held by a later, undecided trip."""

from __future__ import annotations

from datetime import timedelta

from contract.models import PrepareIn, StopIn, TripIn
from federation.invariants import check
from servers.bookings import booking
from servers.bookings import events as ev
from servers.bookings.occupancy import Window
from servers.service.participant import hold_stream
from servers.service.trips import trip_stream
from servers.world.network import Network
from tests.servers.fakes import START, Clock, Node, build_nodes, logs, signup, sync_pictures

LATER = START + timedelta(seconds=5)


def _in_flight(node: Node, trip_id: str, committed: bool = False) -> None:
    """Record at `node` a trip being prepared (or decided, with `committed`), as its coordinator would."""
    requested = ev.TripRequested(trip_id=trip_id, vehicle_id="v-other", request_id=trip_id, attempt=1,
                                 priority=LATER.isoformat(), plan={"origin": "x", "destination": "y"},
                                 participants=[], stops_by_company={}, cost_cents=0, cost_by_company_cents={})
    events: list[ev.Event] = [requested, ev.TripCommitted(trip_id=trip_id)] if committed else [requested]
    node.engine.execute(lambda s: ([ev.append(trip_stream(trip_id), *events)], None))


def _hold_every_point(node: Node, network: Network, station_id: str, stop: dict, coordinator: str,
                      committed: bool = False) -> list[str]:
    """Later trips of `coordinator` hold every point of the station for the stop's window (undecided)."""
    trips = []
    for n, _ in enumerate(network.station(station_id).points):
        trip_id = f"later-{n}"
        req = PrepareIn(trip_id=trip_id, coordinator=coordinator, priority=LATER,
                        stops=[StopIn(stop=0, station_id=station_id, start=stop["window_start"],
                                      end=stop["window_end"], min_power_kw=0, energy_kwh=10)])
        vote = node.participant.prepare(req)
        assert isinstance(vote, ev.Yes)
        trips.append(trip_id)
    return trips


def _first_stop_abroad(nodes: dict[str, Node], home: str, vid: str, trip: TripIn) -> dict:
    planner = nodes[home].planner
    plan = planner.plan(trip, planner.vehicle_of(vid, trip), planner.exclusions([]))[0].to_json()
    return next(s for s in plan["stops"] if s["company_id"] != home)


def _contended(nodes: dict[str, Node], network: Network, cross_trip: tuple[str, str], *,
               committed: bool) -> tuple[str, TripIn, dict, Node, str, list[str]]:
    """A VoltPoint driver's trip whose first stop abroad finds every point held by a later trip of a third
    company, in flight there (`committed`: decided, its commit not yet delivered): (vehicle id, trip, that stop,
    the station's node, that third company, the later trips)."""
    vid = signup(nodes["voltpoint"])
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START + timedelta(hours=2))
    stop = _first_stop_abroad(nodes, "voltpoint", vid, trip)
    owner = nodes[stop["company_id"]]
    other = next(c for c in nodes if c not in ("voltpoint", stop["company_id"]))
    later = _hold_every_point(owner, network, stop["station_id"], stop, other)
    for trip_id in later:
        _in_flight(nodes[other], trip_id, committed=committed)
    return vid, trip, stop, owner, other, later


def test_an_earlier_trip_takes_the_points_of_later_undecided_ones_which_plan_again(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    vid, trip, stop, owner, other, later = _contended(nodes, network, cross_trip, committed=False)

    reply = nodes["voltpoint"].coordinator.book(vid, "r1", trip)

    assert reply["status"] == "RESERVED", reply
    assert stop["station_id"] in [s["station_id"] for s in reply["stops"]]  # the same station, not a detour
    yielded = [t for t in later if t not in owner.engine.state.participations]
    assert len(yielded) == 1  # one point was needed: one later trip yielded, the others keep theirs
    aborted = ev.parse(nodes[other].store.read_stream(trip_stream(yielded[0]))[-1])
    assert isinstance(aborted, ev.TripAborted) and aborted.code == "YIELDED"
    released = [ev.parse(e) for e in owner.store.read_stream(hold_stream(yielded[0]))][-1]
    assert isinstance(released, ev.HoldsReleased) and reply["trip_id"] in released.reason
    assert check(logs(nodes), converged=False) == []


def test_a_later_trip_already_committed_keeps_its_point(network, cross_trip):
    nodes, peers = build_nodes(network, Clock(START))
    # Decided; the commit has not reached the owner yet.
    vid, trip, stop, owner, _, later = _contended(nodes, network, cross_trip, committed=True)

    reply = nodes["voltpoint"].coordinator.book(vid, "r1", trip)

    assert all(t in owner.engine.state.participations for t in later)  # nobody yielded
    asked = {t for _, what, t in peers.calls if what == "outcome"}
    assert asked and asked <= set(later)
    for trip_id in asked:  # the outcome it heard is applied at once: reserved here, before the commit arrives
        assert owner.engine.state.participations[trip_id].status == "CONFIRMED"
    if reply["status"] == "RESERVED":  # planned around the station on the retry
        assert stop["station_id"] not in [s["station_id"] for s in reply["stops"]]


def test_a_later_asker_does_not_make_an_earlier_hold_yield(network):
    nodes, peers = build_nodes(network, Clock(START))
    owner = nodes["eflux"]
    station = network.stations_of("eflux")[0]
    window = {"window_start": START + timedelta(hours=1), "window_end": START + timedelta(hours=2)}
    holders = _hold_every_point(owner, network, station.id, window, "ecocharge")
    for trip_id in holders:
        _in_flight(nodes["ecocharge"], trip_id)
    late = PrepareIn(trip_id="latest", coordinator="voltpoint", priority=LATER + timedelta(seconds=1),
                     stops=[StopIn(stop=0, station_id=station.id, start=window["window_start"],
                                   end=window["window_end"], min_power_kw=0, energy_kwh=10)])
    vote = owner.participant.prepare(late)
    assert isinstance(vote, ev.No) and vote.code == booking.POINT_TAKEN
    assert not [c for c in peers.calls if c[1] == "outcome"]  # nobody was asked to yield
    assert all(t in owner.engine.state.participations for t in holders)


def test_the_rule_is_pure_a_wound_names_the_later_undecided_holds_only(network):
    nodes, _ = build_nodes(network, Clock(START))
    owner = nodes["eflux"]
    station = network.stations_of("eflux")[0]
    window = {"window_start": START + timedelta(hours=1), "window_end": START + timedelta(hours=2)}
    holders = _hold_every_point(owner, network, station.id, window, "ecocharge")
    owner.participant.commit(holders[0])  # one point reserved for good: never wounded
    req = booking.StopRequest(0, station.id, window["window_start"], window["window_end"], 0, 10)
    state = owner.engine.state

    wound = booking.decide_prepare(state, network, "eflux", [req], (START, "early"))
    assert isinstance(wound, booking.Wound)
    assert len(wound.victims) == 1 and wound.victims[0][0] in holders[1:]
    assert wound.victims[0][1] == "ecocharge"
    assert isinstance(booking.decide_prepare(state, network, "eflux", [req], (LATER, "zzz")), booking.Refusal)
    assert isinstance(booking.decide_prepare(state, network, "eflux", [req]), booking.Refusal)


def test_the_picture_shows_later_undecided_holds_as_free_to_an_earlier_asker_only(network):
    nodes, _ = build_nodes(network, Clock(START))
    station = network.stations_of("eflux")[0]
    window = {"window_start": START + timedelta(hours=1), "window_end": START + timedelta(hours=2)}
    holders = _hold_every_point(nodes["eflux"], network, station.id, window, "ecocharge")
    sync_pictures(nodes)
    s, e = window["window_start"].timestamp(), window["window_end"].timestamp()
    for picture in (nodes["voltpoint"].availability, nodes["eflux"].availability):  # a mirror, and our own state
        assert picture.busy(station, 0, s, e)  # whoever holds it: taken
        assert not picture.busy(station, 0, s, e, asker=START.timestamp())  # they asked later: they would yield
        assert picture.busy(station, 0, s, e, asker=(LATER + timedelta(seconds=1)).timestamp())
    for trip_id in holders:
        nodes["eflux"].participant.commit(trip_id)  # reserved: no longer yielding to anyone
    sync_pictures(nodes)
    for picture in (nodes["voltpoint"].availability, nodes["eflux"].availability):
        assert picture.busy(station, 0, s, e, asker=START.timestamp())


def test_a_feed_window_without_a_priority_reads_as_reserved():
    old = Window.from_json(["t1#0", "p1", 1.0, 2.0])  # as a peer of before the priority rule sends it
    assert old.priority == 0.0 and old.to_json() == ["t1#0", "p1", 1.0, 2.0]
    held = Window("t1#0", "p1", 1.0, 2.0, 5.0)
    assert Window.from_json(held.to_json()) == held
