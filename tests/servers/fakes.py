"""Hand-written fakes: several company servers in one process, on in-memory logs, wired without sockets."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from events.memory import InMemoryEventStore
from events.model import RecordedEvent
from servers.contract.fake import fake_vehicle_form
from servers.contract.models import CheckInIn, PrepareIn, SignupIn
from servers.core.network import Network
from servers.domain.errors import DomainError
from servers.service.accounts import Accounts
from servers.service.coordinator import Coordinator
from servers.service.engine import Engine
from servers.service.participant import Participant
from servers.service.peers import PeerRefused, PeerUnavailable
from servers.service.requests import Requests

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CAR = {"capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "max_ac_kw": 11.0, "max_dc_kw": 100.0,
       "profile": "normal"}


class Clock:
    """A network clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Node:
    """One company: its log, engine and services."""

    company: str
    store: InMemoryEventStore
    engine: Engine
    accounts: Accounts
    participant: Participant
    coordinator: Coordinator


@dataclass
class InProcessPeers:
    """`Peers` that call the other nodes directly; a company in `down` does not answer."""

    nodes: dict[str, Node] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    def _node(self, company: str, what: str, trip_id: str) -> Node:
        self.calls.append((company, what, trip_id))
        if company in self.down:
            raise PeerUnavailable(f"{company} is down")
        return self.nodes[company]

    def _run(self, fn: Any) -> Any:
        try:
            return fn()
        except DomainError as exc:
            raise PeerRefused(exc.status, exc.code, exc.message) from exc

    def prepare(self, company: str, req: PrepareIn) -> dict[str, Any]:
        return self._run(lambda: self._node(company, "prepare", req.trip_id).participant.prepare(req))

    def commit(self, company: str, trip_id: str) -> dict[str, Any]:
        return self._run(lambda: self._node(company, "commit", trip_id).participant.commit(trip_id))

    def abort(self, company: str, trip_id: str, reason: str) -> dict[str, Any]:
        return self._run(lambda: self._node(company, "abort", trip_id).participant.abort(trip_id, reason))

    def release(self, company: str, trip_id: str, reason: str) -> dict[str, Any]:
        return self._run(lambda: self._node(company, "release", trip_id).participant.release(trip_id, reason))

    def outcome(self, company: str, trip_id: str) -> str:
        return str(self._run(lambda: self._node(company, "outcome", trip_id).coordinator.outcome(trip_id)))

    def check_in(self, company: str, req: CheckInIn) -> dict[str, Any]:
        return self._run(lambda: self._node(company, "check_in", req.trip_id).participant.check_in(req))


def build_node(network: Network, company: str, peers: InProcessPeers, clock: Clock,
               store: InMemoryEventStore | None = None) -> Node:
    """A company node on `store` (a new in-memory log unless given: pass the old one to 'restart')."""
    store = store or InMemoryEventStore(clock=clock)  # events are recorded at the test's time
    engine = Engine(store, clock=clock)
    requests = Requests(engine)
    participant = Participant(engine, network, company, hold_timeout=timedelta(seconds=30))
    coordinator = Coordinator(engine, requests, network, company, peers, stale_after=timedelta(seconds=20),
                              complete_in_background=False)
    accounts = Accounts(engine, requests, "test-broker-key-0123456789")
    node = Node(company, store, engine, accounts, participant, coordinator)
    peers.nodes[company] = node
    return node


def build_nodes(network: Network, clock: Clock,
                peers: InProcessPeers | None = None) -> tuple[dict[str, Node], InProcessPeers]:
    """A node per company of the network, wired together (through `peers`, plain in-process ones by default)."""
    peers = peers if peers is not None else InProcessPeers()
    nodes = {c.id: build_node(network, c.id, peers, clock) for c in network.companies}
    return nodes, peers


def signup(node: Node, n: int = 0, credit: float = 2000.0) -> str:
    """Open an account for the standard test car at `node` (Faker data, reproducible by `n`); its vehicle id."""
    form = fake_vehicle_form(1000 + n + zlib.crc32(node.company.encode()) % 1000)
    form.update(CAR, charge_kwh=54.0, initial_credit=credit)
    allowed = set(SignupIn.model_fields)
    return node.accounts.signup(SignupIn(**{k: v for k, v in form.items() if k in allowed})).vehicle_id


def logs(nodes: dict[str, Node]) -> dict[str, list[RecordedEvent]]:
    """Every node's whole log."""
    return {c: list(n.store.iter_all()) for c, n in nodes.items()}
