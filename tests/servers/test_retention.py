"""What a company's state forgets (the retention rule of docs/eventlog.md), and that forgetting changes no answer.

In one process, on in-memory logs whose events are recorded at the test's clock, so
that "seven days later" is a clock move.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from contract.models import PrepareIn, StopIn, TripIn
from events.fold import replay, snapshot_key
from events.snapshots import SnapshotStore
from federation.invariants import check
from servers.bookings import events as ev
from servers.bookings.errors import Conflict
from servers.bookings.events import No
from servers.bookings.state import FOLD, RETAIN_RESERVATIONS, RETAIN_TRIPS
from servers.service import views
from servers.service.engine import Engine
from servers.world.network import Network
from tests.servers.fakes import START, Clock, Node, build_nodes, logs, signup


def out_of_order(nodes: dict[str, Node], network: Network, companies: tuple[str, ...]) -> None:
    """Every point of these companies out of order: each prepare there is refused."""
    for company in companies:
        for station in network.stations_of(company):
            for point in station.points:
                nodes[company].participant.set_point_status(point.id, "OUT_OF_ORDER")


def state_size(node: Node) -> int:
    return len(json.dumps(FOLD.to_json(node.engine.state)))


def assert_replay_matches(nodes: dict[str, Node]) -> None:
    for node in nodes.values():
        state, _ = replay(node.store, FOLD)
        assert views.digest(state) == views.digest(node.engine.state)


@pytest.fixture
def refusing(network: Network, cross_trip: tuple[str, str]) -> tuple[dict[str, Node], str, TripIn]:
    """Three nodes where a cross-company trip is always refused (two companies' points out of order)."""
    nodes, _ = build_nodes(network, Clock(START - timedelta(days=1)))
    out_of_order(nodes, network, ("eflux", "ecocharge"))
    vid = signup(nodes["voltpoint"])
    return nodes, vid, TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START)


def test_a_refused_request_leaves_only_its_answer_and_its_log(refusing):
    nodes, vid, trip = refusing
    home = nodes["voltpoint"]
    reply = home.coordinator.book(vid, "r1", trip)
    assert reply["status"] == "REJECTED", reply
    attempts = [e for e in home.store.iter_all() if e.type == ev.TripRequested.NAME]
    assert len(attempts) >= 2  # it re-planned around the refusals before answering
    # Every attempt was aborted and every participant told: nothing of them is left in memory.
    assert home.engine.state.trips == {}
    assert home.engine.state.accounts[vid].trips == []
    for node in nodes.values():
        assert node.engine.state.participations == {}
        assert node.engine.state.occupancy == {}
    # The answer is in the log: a repeat of the request gets it again, and books nothing.
    before = home.store.head()
    assert home.coordinator.book(vid, "r1", trip) == reply
    assert home.store.head() == before
    assert views.stats(home.engine.state, home.coordinator.network, "voltpoint", START)["trips_aborted"] == len(
        attempts)
    assert check(logs(nodes), converged=True) == []
    assert_replay_matches(nodes)


def test_a_prepare_repeated_after_the_trip_is_over_gets_the_first_vote_or_a_no(refusing):
    nodes, vid, trip = refusing
    home = nodes["voltpoint"]
    home.coordinator.book(vid, "r1", trip)
    first = next(e for e in home.store.iter_all() if e.type == ev.TripRequested.NAME).data
    for company, stops in first["stops_by_company"].items():
        node = nodes[company]
        recorded = [e for e in node.store.iter_all() if e.stream_id == f"hold:{first['trip_id']}"]
        assert recorded, f"{company} never heard of the attempt"
        head = node.store.head()
        vote = node.participant.prepare(PrepareIn(trip_id=first["trip_id"], coordinator="voltpoint",
                                                  priority=START, stops=[StopIn(**s) for s in stops]))
        assert isinstance(vote, No)
        if recorded[0].type == ev.PrepareRefused.NAME:  # the very vote it gave, read back from the log
            assert vote.code == recorded[0].data["code"] and vote.conflicts == recorded[0].data["conflicts"]
        else:  # it held, then released at the abort: nothing is held again, nor committed
            assert vote.code == "TRIP_OVER"
            with pytest.raises(Conflict) as refused:
                node.participant.commit(first["trip_id"])
            assert refused.value.code == "NOT_HELD"
        assert node.store.head() == head and node.engine.state.participations == {}


def test_refused_requests_do_not_grow_the_state(refusing):
    nodes, vid, trip = refusing
    home = nodes["voltpoint"]
    for n in range(3):
        home.coordinator.book(vid, f"warm-{n}", trip)
    sizes = {c: state_size(node) for c, node in nodes.items()}
    events = home.store.head()
    for n in range(20):
        assert home.coordinator.book(vid, f"r{n}", trip)["status"] == "REJECTED"
    assert home.store.head() > events + 20 * 4  # each request was really tried, and written down
    for company, node in nodes.items():
        # Only counters move (a few digits); a forgotten attempt alone would be kilobytes.
        assert state_size(node) - sizes[company] < 64, company


def test_finished_reservations_and_past_trips_are_forgotten_after_their_retention(network, cross_trip, tmp_path):
    clock = Clock(START - timedelta(days=1))
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r1", TripIn(origin=cross_trip[0], destination=cross_trip[1],
                                                    departure=START))
    assert reply["status"] == "RESERVED"
    trip_id = reply["trip_id"]
    companies = {s["company_id"] for s in reply["stops"]}
    ends = {c: max(datetime.fromisoformat(s["window_end"]) for s in reply["stops"] if s["company_id"] == c)
            for c in companies}
    arrival = datetime.fromisoformat(reply["plan"]["arrival"])

    def poke(node: Node) -> None:
        """Append any event at `node`: retention runs as events are folded."""
        node.participant.set_point_status(network.stations_of(node.company)[0].points[0].id, "AVAILABLE")

    clock.now = max(ends.values()) + timedelta(minutes=1)
    for company in companies:
        assert nodes[company].participant.record_no_shows(clock.now) > 0
    for company in sorted(companies, key=lambda c: ends[c]):  # each company keeps its own stops' records
        clock.now = ends[company] + RETAIN_RESERVATIONS - timedelta(minutes=1)
        poke(nodes[company])
        assert trip_id in nodes[company].engine.state.participations  # not yet: a late "finish" still works
        clock.now = ends[company] + RETAIN_RESERVATIONS + timedelta(minutes=1)
        poke(nodes[company])
        assert trip_id not in nodes[company].engine.state.participations
    assert trip_id in home.engine.state.trips  # the driver's trip stays longer than the points' records
    assert [t["trip_id"] for t in home.trips.trips_of(vid)] == [trip_id]
    # A snapshot taken now carries what was forgotten; a restart from it and a replay from zero agree.
    snapshots = SnapshotStore(tmp_path / "snap.db")
    Engine(home.store, clock=clock, snapshots=snapshots, snapshot_every=1)
    assert snapshots.latest(snapshot_key(FOLD)) is not None

    clock.now = arrival + RETAIN_TRIPS + timedelta(minutes=1)
    poke(home)
    assert trip_id not in home.engine.state.trips
    assert home.trips.trips_of(vid) == []
    account = home.accounts.view(vid)
    assert account["trips"] == []
    assert any(line.get("trip_id") == trip_id for line in account["statement"])  # money lines stay
    figures = views.stats(home.engine.state, network, "voltpoint", clock.now)
    assert (figures["trips_confirmed"], figures["trips_kept"]) == (1, 0)  # the figures are all-time
    restarted = Engine(home.store, clock=clock, snapshots=snapshots, snapshot_every=10**9)
    assert views.digest(restarted.state) == views.digest(home.engine.state)
    assert_replay_matches(nodes)
    assert check(logs(nodes), converged=True) == []


def test_expired_tokens_leave_the_state(network):
    clock = Clock(START)
    nodes, _ = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    assert home.engine.state.accounts[vid].tokens and home.engine.state.by_token
    clock.advance(hours=13)  # the tokens live 12 h
    home.accounts.add_credit(vid, 1.0, "later")
    assert home.engine.state.accounts[vid].tokens == {}
    assert home.engine.state.by_token == {}
    assert_replay_matches(nodes)
