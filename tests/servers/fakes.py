"""Hand-written fakes: several company servers in one process, on in-memory logs, wired without sockets.

The services are asynchronous (they run on a server's event loop); a test
drives them from plain code through `Blocking`, which runs each coroutine to
its end on the nodes' one event loop. The nodes' engines write at once (no
writer thread), so a test sees every append as soon as the call returns.
Every fake peer call yields to the loop once, so operations started together
(`gather`) really interleave.
"""

from __future__ import annotations

import asyncio
import inspect
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from contract.fake import fake_vehicle_form
from contract.models import CheckInIn, NoticeIn, PrepareIn, SignupIn
from events.memory import InMemoryEventStore
from events.model import RecordedEvent
from servers.bookings.errors import DomainError
from servers.service.accounts import Accounts
from servers.service.availability import Availability
from servers.service.coordinator import Coordinator
from servers.service.engine import Engine
from servers.service.lifecycle import Lifecycle
from servers.service.occupancy_feed import OccupancyFeed
from servers.service.participant import Participant
from servers.service.peers import PeerRefused, PeerUnavailable, outcome_asker
from servers.service.planning import TripPlanner
from servers.service.requests import Requests
from servers.service.trips import TripsView
from servers.world.network import Network
from tests.live import CAR

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
T = TypeVar("T")


class Clock:
    """A network clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Blocking(Generic[T]):
    """A service whose coroutine methods run to their end when called (on the nodes' loop); `real` is the service."""

    def __init__(self, real: T, loop: asyncio.AbstractEventLoop) -> None:
        self.real = real
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            return self._loop.run_until_complete(result) if inspect.isawaitable(result) else result

        return call


@dataclass
class Node:
    """One company: its log, engine and services (the async ones behind `Blocking`)."""

    company: str
    store: InMemoryEventStore
    engine: Engine
    accounts: Blocking[Accounts]
    participant: Blocking[Participant]
    coordinator: Blocking[Coordinator]
    trips: TripsView
    feed: OccupancyFeed
    availability: Availability
    planner: TripPlanner
    lifecycle: Lifecycle


@dataclass
class InProcessPeers:
    """Every company as a `Peer` that calls its node directly; a company in `down` does not answer."""

    nodes: dict[str, Node] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def of(self, company: str, caller: str = "") -> FakePeer:
        """The port through which `caller` (anyone, if not said) reaches `company`."""
        return FakePeer(self, company, caller)

    def run(self, coro: Any) -> Any:
        """Run a coroutine (several, with `asyncio.gather`) to its end on the nodes' loop."""
        return self.loop.run_until_complete(coro)

    def outcome(self, company: str, trip_id: str) -> str:
        return str(self.run(self.of(company).outcome(trip_id)))


class FakePeer:
    """One company seen through `InProcessPeers` (the `Peer` port)."""

    def __init__(self, peers: InProcessPeers, company: str, caller: str = "") -> None:
        self.peers = peers
        self.company = company
        self.caller = caller  # who calls (what peer authentication tells a real server)

    async def _node(self, what: str, trip_id: str) -> Node:
        await asyncio.sleep(0)  # a peer call is a wait: let whatever else runs go on
        self.peers.calls.append((self.company, what, trip_id))
        if self.company in self.peers.down:
            raise PeerUnavailable(f"{self.company} is down")
        return self.peers.nodes[self.company]

    @staticmethod
    def _run(fn: Any) -> Any:
        try:
            return fn()
        except DomainError as exc:
            raise PeerRefused(exc.status, exc.code, exc.message) from exc

    async def prepare(self, req: PrepareIn) -> Any:
        node = await self._node("prepare", req.trip_id)
        try:
            return await node.participant.real.prepare(req)
        except DomainError as exc:
            raise PeerRefused(exc.status, exc.code, exc.message) from exc

    async def commit(self, trip_id: str) -> dict[str, Any]:
        node = await self._node("commit", trip_id)
        return self._run(lambda: node.participant.commit(trip_id))  # type: ignore[no-any-return]

    async def abort(self, trip_id: str, reason: str) -> dict[str, Any]:
        node = await self._node("abort", trip_id)
        return self._run(lambda: node.participant.abort(trip_id, reason))  # type: ignore[no-any-return]

    async def release(self, trip_id: str, reason: str, stops: list[int] | None = None) -> dict[str, Any]:
        node = await self._node("release", trip_id)
        return self._run(lambda: node.participant.release(trip_id, reason, stops))  # type: ignore[no-any-return]

    async def notice(self, req: NoticeIn) -> dict[str, Any]:
        node = await self._node("notice", req.trip_id)
        return self._run(lambda: node.coordinator.real.notice(self.caller, req))  # type: ignore[no-any-return]

    async def outcome(self, trip_id: str, asked_by: str | None = None, point_id: str | None = None) -> str:
        node = await self._node("outcome", trip_id)
        return str(self._run(lambda: node.coordinator.real.outcome(trip_id, asked_by, point_id)))

    async def check_in(self, req: CheckInIn) -> dict[str, Any]:
        node = await self._node("check_in", req.trip_id)
        return self._run(lambda: node.participant.check_in(req, caller=self.caller or None))  # type: ignore[no-any-return]


class PeersOf(dict[str, Any]):
    """A company's `Peers`: every company of the network, through the fakes (made on first use)."""

    def __init__(self, peers: InProcessPeers, caller: str = "") -> None:
        super().__init__()
        self.peers = peers
        self.caller = caller

    def get(self, company: str, default: Any = None) -> Any:
        return self.peers.of(company, self.caller) if company in self.peers.nodes else default


def build_node(network: Network, company: str, peers: InProcessPeers, clock: Clock,
               store: InMemoryEventStore | None = None) -> Node:
    """A company node on `store` (a new in-memory log unless given: pass the old one to 'restart')."""
    store = store or InMemoryEventStore(clock=clock)  # events are recorded at the test's time
    engine = Engine(store, clock=clock, background=False)
    requests = Requests(engine)
    participant = Participant(engine, network, company, hold_timeout=timedelta(seconds=30),
                              ask_outcome=outcome_asker(PeersOf(peers, company)))  # type: ignore[arg-type]  # fakes
    trips = TripsView(engine, network)
    availability = Availability(engine, network, company, lambda: clock.now.timestamp())
    planner = TripPlanner(engine, network, availability)
    coordinator = Coordinator(engine, requests, network, company, PeersOf(peers, company), trips, planner,
                              stale_after=timedelta(seconds=20), complete_in_background=False,
                              availability=availability)
    accounts = Accounts(engine, requests, "test-broker-key-0123456789")
    node = Node(company, store, engine, Blocking(accounts, peers.loop), Blocking(participant, peers.loop),
                Blocking(coordinator, peers.loop), trips, OccupancyFeed(engine), availability, planner,
                Lifecycle(engine, network))
    peers.nodes[company] = node
    return node


def build_nodes(network: Network, clock: Clock,
                peers: InProcessPeers | None = None) -> tuple[dict[str, Node], InProcessPeers]:
    """A node per company of the network, wired together (through `peers`, plain in-process ones by default)."""
    peers = peers if peers is not None else InProcessPeers()
    nodes = {c.id: build_node(network, c.id, peers, clock) for c in network.companies}
    return nodes, peers


def sync_pictures(nodes: dict[str, Node]) -> None:
    """Every node's picture of every other brought up to date from their feeds (what the followers do)."""
    for node in nodes.values():
        for other in nodes.values():
            if other is not node:
                picture = node.availability.peer(other.company)
                picture.mirror.apply(other.feed.since(picture.mirror.seq if picture.mirror.seq else -1))


def signup(node: Node, n: int = 0, credit: float = 2000.0) -> str:
    """Open an account for the standard test car at `node` (Faker data, reproducible by `n`); its vehicle id."""
    form = fake_vehicle_form(1000 + n + zlib.crc32(node.company.encode()) % 1000)
    form.update(CAR, initial_credit=credit)
    allowed = set(SignupIn.model_fields)
    return str(node.accounts.signup(SignupIn(**{k: v for k, v in form.items() if k in allowed})).vehicle_id)


def logs(nodes: dict[str, Node]) -> dict[str, list[RecordedEvent]]:
    """Every node's whole log."""
    return {c: list(n.store.iter_all()) for c, n in nodes.items()}


def deliver_notices(nodes: dict[str, Node]) -> int:
    """What every node's recovery loop does for charger faults: deal with failed points, tell coordinators."""
    told = 0
    for node in nodes.values():
        node.participant.handle_faults(node.engine.clock())
        for coordinator, notice in node.participant.pending_notices():
            nodes[coordinator].coordinator.real.notice(node.company, notice)
            node.participant.notice_delivered(notice)
            told += 1
    return told
