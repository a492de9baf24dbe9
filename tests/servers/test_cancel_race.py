"""A cancel that lands while phase two (the commits) is still being delivered (issue #11, item 1)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contract.models import TripIn
from federation.invariants import check
from tests.servers.fakes import START, Clock, FakePeer, InProcessPeers, build_nodes, logs, signup


class CancelDuringCommit(InProcessPeers):
    """Peers where the driver cancels while the first commit is on its way, and every release then fails."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel: Any = None  # set by the test: cancels the trip at its coordinator (a coroutine function)

    def of(self, company: str, caller: str = "") -> FakePeer:
        return _Hooked(self, company, caller)


class _Hooked(FakePeer):
    peers: CancelDuringCommit

    async def commit(self, trip_id: str) -> dict[str, Any]:
        cancel, self.peers.cancel = self.peers.cancel, None
        if cancel is not None:
            self.peers.down = set(self.peers.nodes)  # the cancel's releases reach nobody for now
            await cancel()
            self.peers.down = set()
        return await super().commit(trip_id)


def test_a_cancel_during_phase_two_releases_every_point_once_settled(network, cross_trip):
    clock = Clock(START - timedelta(hours=3))
    peers = CancelDuringCommit()
    nodes, _ = build_nodes(network, clock, peers)
    home = nodes["voltpoint"]
    vid = signup(home)
    trip_id: list[str] = []

    async def cancel() -> None:
        trip_id.append(next(iter(home.engine.state.trips)))
        await home.coordinator.real.cancel(vid, trip_id[0])

    peers.cancel = cancel
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    assert reply["status"] == "RESERVED" and trip_id == [reply["trip_id"]]
    assert home.engine.state.trips[reply["trip_id"]].status == "CANCELLED"
    for _ in range(3):  # the recovery loop delivers what is still owed
        home.coordinator.resume(clock.now)
    assert all(reply["trip_id"] not in n.engine.state.participations for n in nodes.values())
    assert all(not n.engine.state.occupancy for n in nodes.values())
    assert home.accounts.view(vid)["balance"] == 2000.0
    assert check(logs(nodes), converged=True) == []


def test_the_checker_finds_a_cancelled_trip_still_reserved_at_a_participant(network, cross_trip):
    clock = Clock(START - timedelta(hours=3))
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r", TripIn(origin=cross_trip[0], destination=cross_trip[1], departure=START))
    peers.down = set(nodes)  # the releases are never delivered
    home.coordinator.cancel(vid, reply["trip_id"])
    found = check(logs(nodes), converged=True)
    assert found and all(v.invariant == "all-or-none" and "cancelled" in v.message for v in found)
