"""Wires one company server: log, engine, services, peers, and the recovery loop."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from events.location import open_store
from events.snapshots import SnapshotStore
from events.store import EventStore
from servers.adapters.peer_client import HttpPeer, PeerClient
from servers.peer_auth import Verifier
from servers.service.accounts import Accounts
from servers.service.availability import Availability
from servers.service.coordinator import Coordinator
from servers.service.engine import Engine
from servers.service.lifecycle import Lifecycle
from servers.service.occupancy_feed import OccupancyFeed
from servers.service.participant import Participant
from servers.service.peers import LocalPeer, Peers, outcome_asker
from servers.service.planning import TripPlanner
from servers.service.point_status import PointStatuses
from servers.service.recovery import Recovery
from servers.service.requests import Requests
from servers.service.trips import TripsView
from servers.settings import Settings
from servers.world.network import Network

log = logging.getLogger(__name__)


@dataclass
class Server:
    """One company's server, assembled; `start()` runs its recovery loop, `close()` stops everything."""

    settings: Settings
    network: Network
    store: EventStore
    engine: Engine
    accounts: Accounts
    participant: Participant
    coordinator: Coordinator
    trips: TripsView
    planner: TripPlanner
    peers: Peers
    client: PeerClient
    verifier: Verifier
    feed: OccupancyFeed
    availability: Availability
    recovery: Recovery
    points: PointStatuses  # every point's live OCPI status
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def company(self) -> str:
        return self.settings.company

    def start(self) -> None:
        """On the running event loop: the recovery loop, and a follower of each other company's bookings."""
        self._tasks.append(asyncio.create_task(self._loop(), name=f"recovery-{self.company}"))
        for company, peer in self.peers.items():
            if isinstance(peer, HttpPeer):
                self._tasks.append(asyncio.create_task(peer.follow(self.availability.peer(company)),
                                                       name=f"follow-{company}"))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_s)
            try:
                await self.recovery.tick()
            except Exception:  # the loop must outlive one bad round; the next retries
                log.exception("recovery round failed")

    async def close(self) -> None:
        """Stop the loop, let phase two in flight land, close the pools and the log."""
        for task in self._tasks:
            task.cancel()
        await self.coordinator.close()
        try:
            await self.engine.durable()
        except Exception:  # a log that cannot be written has already said so; close anyway
            log.exception("closing with unwritten events")
        await self.client.close()
        self.accounts.close()
        self.engine.close()
        self.engine.snapshot_if_due()
        self.store.close()


def build_server(settings: Settings) -> Server:
    """Open the log, replay it, and assemble the services."""
    network = settings.network()
    location = settings.log_location()  # a file (SQLite) or a postgresql:// URL: docs/scaling.md
    snapshots = settings.snapshots_path()
    if location.path is not None:
        location.path.parent.mkdir(parents=True, exist_ok=True)
    snapshots.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(location, synchronous=settings.synchronous)
    report = store.verify()
    if not report.ok:
        store.close()
        raise RuntimeError(f"the event log {location} is damaged at seq {report.first_bad_seq}: {report.reason}; "
                           "refusing to serve from it")
    engine = Engine(store, snapshots=SnapshotStore(snapshots))
    if store.get_meta("company") is None:
        store.set_meta("company", settings.company)
    requests = Requests(engine)
    accounts = Accounts(engine, requests, settings.broker_key, timedelta(seconds=settings.token_ttl_s))
    trips = TripsView(engine, network)
    availability = Availability(engine, network, settings.company, time.monotonic)
    client = PeerClient(settings.company, settings.peer_secrets, timeout_s=settings.peer_timeout_s)
    # Every company's participant, this one's included: the other companies over signed HTTP now, this company's
    # own (a LocalPeer) once its coordinator exists, below. The coordinator and the participant's outcome asker
    # look a company up in this dict when they call it, never at construction.
    peers: Peers = {company: HttpPeer(company, address, client)
                    for company, address in settings.peer_addresses(network).items()}
    participant = Participant(engine, network, settings.company,
                              hold_timeout=timedelta(seconds=settings.hold_timeout_s),
                              ask_outcome=outcome_asker(peers) if settings.priority_rule else None)
    planner = TripPlanner(engine, network, availability)
    coordinator = Coordinator(engine, requests, network, settings.company, peers, trips, planner,
                              stale_after=timedelta(seconds=settings.stale_trip_s), availability=availability,
                              priority_rule=settings.priority_rule)
    # The one cycle: the coordinator reaches its own participant through `peers`, and the LocalPeer answers
    # "what became of trip X?" with this coordinator's outcome (a participant asks it before yielding a point).
    peers[settings.company] = LocalPeer(settings.company, participant, coordinator.outcome, coordinator.notice)
    verifier = Verifier(settings.company, settings.peer_secrets)
    recovery = Recovery(engine, coordinator, participant, peers, availability, Lifecycle(engine, network))
    return Server(settings, network, store, engine, accounts, participant, coordinator, trips, planner, peers,
                  client, verifier, OccupancyFeed(engine), availability, recovery,
                  PointStatuses(engine, network, settings.company))
