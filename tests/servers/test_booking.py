"""Booking across companies, in one process, on in-memory logs (the 2PC rules, without sockets)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contract.models import CheckInIn, PrepareIn, StopIn, TripIn
from events.fold import replay, snapshot_key
from federation.invariants import check
from servers.bookings.errors import Conflict
from servers.bookings.events import No, Vote, Yes
from servers.bookings.state import FOLD
from servers.service import views
from servers.service.coordinator import stops_by_company
from servers.world.network import Network
from tests.servers.fakes import START, Clock, Node, build_node, build_nodes, logs, signup


def test_a_trip_across_companies_is_confirmed_at_every_company_and_debited_once(network, cross_trip):
    clock = Clock(START)
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    origin, destination = cross_trip
    reply = home.coordinator.book(vid, "r1", TripIn(origin=origin, destination=destination, departure=START))
    assert reply["status"] == "RESERVED", reply
    companies = {s["company_id"] for s in reply["stops"]}
    assert len(companies) >= 2
    for company in companies:
        part = nodes[company].engine.state.participations[reply["trip_id"]]
        assert part.status == "CONFIRMED"
    account = home.accounts.view(vid)
    assert account["balance"] == pytest.approx(2000.0 - reply["cost"])
    assert [e["kind"] for e in account["statement"]] == ["credit", "debit"]
    assert check(logs(nodes), converged=True) == []


def test_a_repeated_request_id_returns_the_first_answer_and_books_once(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["ecocharge"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)
    first = home.coordinator.book(vid, "same", trip)
    again = home.coordinator.book(vid, "same", trip)
    assert again == first
    assert len(home.engine.state.trips) == 1
    assert len([e for e in home.accounts.view(vid)["statement"] if e["kind"] == "debit"]) == 1


def test_not_enough_credit_is_refused_and_holds_nothing(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["eflux"]
    vid = signup(home, credit=0.0)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    assert reply["status"] == "REJECTED" and reply["code"] == "INSUFFICIENT_CREDIT"
    assert all(not n.engine.state.occupancy for n in nodes.values())


def test_a_silent_company_aborts_the_trip_and_no_point_stays_held(network, cross_trip):
    nodes, peers = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)
    plan = home.planner.plan(trip, home.planner.vehicle_of(vid, trip), home.planner.exclusions())[0]
    others = sorted({s.company_id for s in plan.stops} - {"voltpoint"})
    peers.down = {others[0]}
    reply = home.coordinator.book(vid, "r", trip)
    if reply["status"] == "RESERVED":  # re-planned around the silent company
        assert others[0] not in {s["company_id"] for s in reply["stops"]}
    else:
        assert reply["code"] in ("PEER_UNAVAILABLE", "NO_PLAN") or reply["code"].isupper()
    peers.down = set()
    home.coordinator.resume(START)  # the abort reaches the company that was down
    assert check(logs(nodes), converged=True) == []
    assert home.accounts.view(vid)["balance"] == pytest.approx(2000.0 - (reply.get("cost") or 0.0))


def test_a_taken_point_is_refused_with_alternatives_and_the_coordinator_replans(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)
    vehicles = [signup(home, n) for n in range(12)]
    replies = [home.coordinator.book(v, "r", trip) for v in vehicles]
    confirmed = [r for r in replies if r["status"] == "RESERVED"]
    assert confirmed, "the first booking at least must succeed"
    # Twelve identical trips at once exceed some station's points: later ones re-plan or are refused.
    first_points = [tuple(s["point_id"] for s in r["stops"]) for r in confirmed]
    assert len(set(first_points)) == len(first_points), "no two trips share a point in one window"
    refused = [r for r in replies if r["status"] == "REJECTED"]
    for r in refused:
        assert r["reason"] and "alternatives" in r
    assert check(logs(nodes), converged=True) == []


def test_the_same_road_at_other_times_is_planned_from_the_cache_and_books_the_same_stations(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    replies = [home.coordinator.book(signup(home, n), "r", TripIn(origin=cross_trip[0], destination=cross_trip[1],
                                                                  departure=START + timedelta(days=n, minutes=7 * n)))
               for n in range(4)]
    assert [r["status"] for r in replies] == ["RESERVED"] * 4, replies
    # Asked once: a search; twice: kept; then answered from the cache, at every later departure.
    assert home.planner.cache.stats.hits >= 2
    assert len({tuple(s["station_id"] for s in r["stops"]) for r in replies}) == 1
    assert check(logs(nodes), converged=True) == []


def test_prepare_is_idempotent_and_never_double_books_a_point(network):
    clock = Clock(START)
    nodes, _ = build_nodes(network, clock)
    node = nodes["voltpoint"]
    station = network.stations_of("voltpoint")[0]
    stop = StopIn(stop=0, station_id=station.id, start=START, end=START + timedelta(hours=1),
                  min_power_kw=0, energy_kwh=10)

    def prepare(trip_id: str, asked: datetime = START) -> Vote:
        return node.participant.prepare(PrepareIn(trip_id=trip_id, coordinator="eflux", priority=asked,
                                                  stops=[stop]))

    votes = [prepare(f"t{i}") for i in range(len(station.points))]
    assert all(isinstance(v, Yes) for v in votes)
    assert len({v.holds[0].point_id for v in votes}) == len(station.points)
    assert prepare("t0") == votes[0]  # a retried prepare gets the first answer
    later = START + timedelta(seconds=1)  # asked after the holders: it does not make them yield
    refused = prepare("late", later)
    assert isinstance(refused, No) and refused.code == "POINT_TAKEN"
    assert len(refused.conflicts) == len(station.points)
    assert all(a["station_id"] != station.id for a in refused.alternatives)
    assert prepare("late", later) == refused
    node.participant.abort("t0")
    assert isinstance(prepare("after-release"), Yes)


def held_at_ecocharge(network: Network) -> Node:
    """EcoCharge holding a point for trip "t" (coordinated by VoltPoint), undecided."""
    nodes, _ = build_nodes(network, Clock(START))
    node = nodes["ecocharge"]
    station = network.stations_of("ecocharge")[0]
    stop = StopIn(stop=0, station_id=station.id, start=START, end=START + timedelta(hours=1),
                  min_power_kw=0, energy_kwh=10)
    node.participant.prepare(PrepareIn(trip_id="t", coordinator="voltpoint", priority=START, stops=[stop]))
    return node


def test_abort_after_commit_is_refused_and_release_frees_the_point(network):
    node = held_at_ecocharge(network)
    node.participant.commit("t")
    assert node.participant.commit("t")["status"] == "CONFIRMED"
    with pytest.raises(Conflict):
        node.participant.abort("t")
    node.participant.release("t")
    assert not node.engine.state.occupancy


def test_a_check_in_forwarded_by_the_coordinator_before_its_commit_arrives_confirms_the_holds(network):
    """Phase two is delivered in the background: the driver may check in before the commit reaches the station's
    company. Only the trip's coordinator forwards check-ins (of committed trips), so from it one means commit."""
    node = held_at_ecocharge(network)
    start = CheckInIn(trip_id="t", stop=0, action="start")
    with pytest.raises(Conflict) as refused:
        node.participant.check_in(start, caller="eflux")  # not its coordinator: tells nothing
    assert refused.value.code == "NOT_RESERVED"
    assert node.participant.check_in(start, caller="voltpoint")["charging"] == "CHARGING"
    assert node.engine.state.participations["t"].status == "CONFIRMED"
    assert [e.type for e in node.store.read_stream("hold:t")] == ["HoldsPlaced", "HoldsConfirmed", "ChargingStarted"]


def test_an_undecided_hold_is_resolved_by_asking_the_coordinator(network, cross_trip):
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    station = network.stations_of("ecocharge")[0]
    stop = StopIn(stop=0, station_id=station.id, start=START + timedelta(hours=2),
                  end=START + timedelta(hours=3), min_power_kw=0, energy_kwh=10)
    # A hold for a trip its coordinator never recorded (as if it crashed before TripRequested).
    nodes["ecocharge"].participant.prepare(PrepareIn(trip_id="ghost", coordinator="voltpoint", priority=START,
                                                     stops=[stop]))
    unsettled = check(logs(nodes), converged=True)  # the checker does not call that settled
    assert [(v.invariant, "no record" in v.message) for v in unsettled] == [("all-or-none", True)]
    clock.advance(seconds=31)
    overdue = nodes["ecocharge"].participant.overdue(clock.now)
    assert overdue == [("ghost", "voltpoint")]
    assert peers.outcome("voltpoint", "ghost") == "abort"
    nodes["ecocharge"].participant.abort("ghost")
    assert not nodes["ecocharge"].engine.state.occupancy
    assert home.engine.state.trips == {}
    assert check(logs(nodes), converged=True) == []


def test_an_outcome_query_aborts_an_undecided_trip_durably(network, cross_trip):
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    trip = TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)
    plan = home.planner.plan(trip, home.planner.vehicle_of(vid, trip), home.planner.exclusions())[0]
    # Simulate a coordinator that recorded the request, then stalled before deciding.
    from events.model import NewEvent, StreamAppend
    from servers.bookings import events as ev

    grouped = stops_by_company(plan)
    home.engine.execute(lambda s: ([StreamAppend("trip:stalled", (NewEvent(ev.TripRequested.NAME, {
        "trip_id": "stalled", "vehicle_id": vid, "request_id": "x", "attempt": 1, "priority": START.isoformat(),
        "plan": plan.to_json(), "participants": sorted(grouped), "stops_by_company": grouped,
        "cost_cents": 100, "cost_by_company_cents": {}}),))], None))
    assert home.coordinator.outcome("stalled") == "abort"
    assert home.engine.state.trips["stalled"].status == "ABORTED"
    assert home.coordinator.outcome("stalled") == "abort"
    # The decision is in the log: a restarted coordinator still says abort.
    restarted = build_node(network, "voltpoint", peers, clock, store=home.store)
    assert restarted.coordinator.outcome("stalled") == "abort"


def test_cancel_refunds_by_the_policy_and_releases_every_point(network, cross_trip):
    clock = Clock(START - timedelta(hours=3))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    assert reply["status"] == "RESERVED"
    cancelled = home.coordinator.cancel(vid, reply["trip_id"])
    assert cancelled["refund"] == pytest.approx(reply["cost"])
    assert home.coordinator.cancel(vid, reply["trip_id"]) == cancelled  # idempotent
    assert home.accounts.view(vid)["balance"] == pytest.approx(2000.0)
    assert all(not n.engine.state.occupancy for n in nodes.values())
    assert check(logs(nodes), converged=True) == []


def test_cancel_after_a_stops_cancel_until_keeps_that_stops_price(network, cross_trip):
    clock = Clock(START - timedelta(minutes=90))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    first_window = datetime.fromisoformat(reply["stops"][0]["window_start"])
    clock.now = first_window - timedelta(minutes=1)  # past every company's cancel-until for the first stop
    kept = reply["stops"][0]["price"]["total"]
    refunded = sum(s["price"]["total"] for s in reply["stops"][1:]
                   if clock.now <= datetime.fromisoformat(s["refund_until"]))
    assert home.coordinator.cancel(vid, reply["trip_id"])["refund"] == pytest.approx(refunded / 100)
    assert refunded <= round(reply["cost"] * 100) - kept
    assert check(logs(nodes), converged=True) == []


def test_check_in_charges_at_the_reserved_point_and_no_shows_free_the_rest(network, cross_trip):
    clock = Clock(START)
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    first = reply["stops"][0]
    home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    done = home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="finish",
                                                    energy_kwh=12.5))
    assert done["charging"] == "FINISHED" and done["point_id"] == first["point_id"]
    # Started and finished at once: no minutes charging, none idle; the energy and the flat fees.
    assert done["cost_cents"] == network.tariff(first["station_id"]).price(12.5, 0.0).total == \
        done["cdr"]["price"]["total"]
    # Half a centavo rounds up (R$ 23.625 → 2363 cents), never to the even one.
    assert done["cdr"]["price"]["energy"] == int(12.5 * network.tariff(first["station_id"]).per_kwh * 100 + 0.5)
    clock.now = datetime.fromisoformat(reply["stops"][-1]["window_end"]) + timedelta(minutes=1)
    freed = sum(n.participant.record_no_shows(clock.now) for n in nodes.values())
    assert freed == len(reply["stops"]) - 1
    assert all(not n.engine.state.occupancy for n in nodes.values())


def test_replaying_the_log_gives_the_running_state(network, cross_trip):
    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    for n in range(3):
        vid = signup(home, n)
        home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    for node in nodes.values():
        state, _ = replay(node.store, FOLD)
        assert views.digest(state) == views.digest(node.engine.state)
        assert views.digest(FOLD.from_json(FOLD.to_json(state))) == views.digest(state)


def test_a_restart_from_a_snapshot_gives_the_same_state_as_a_replay_from_zero(network, cross_trip, tmp_path):
    from events.snapshots import SnapshotStore
    from servers.service.engine import Engine

    nodes, _ = build_nodes(network, Clock(START))
    home = nodes["voltpoint"]
    for n in range(2):
        home.coordinator.book(signup(home, n), "r", TripIn(origin=cross_trip[0], destination=cross_trip[1],
                                                            departure=START))
    snapshots = SnapshotStore(tmp_path / "snap.db")
    first = Engine(home.store, snapshots=snapshots, snapshot_every=5)  # saves one: the log is longer than 5
    assert snapshots.latest(snapshot_key(FOLD)) is not None
    assert snapshots.latest(snapshot_key(FOLD)).seq == home.store.head()
    again = Engine(home.store, snapshots=snapshots, snapshot_every=5)
    from_zero, _ = replay(home.store, FOLD)
    assert views.digest(again.state) == views.digest(from_zero) == views.digest(first.state)


def test_a_trip_cannot_be_cancelled_once_the_driver_has_checked_in(network, cross_trip):
    clock = Clock(START - timedelta(hours=5))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    home.coordinator.check_in(vid, CheckInIn(trip_id=reply["trip_id"], stop=0, action="start"))
    with pytest.raises(Conflict) as refused:
        home.coordinator.cancel(vid, reply["trip_id"])
    assert refused.value.code == "TRIP_STARTED"
