"""Wires one company server: log, engine, services, peers, and the recovery loop."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from events.snapshots import SnapshotStore
from events.store import SqliteEventStore
from servers.adapters.peer_client import HttpPeers
from servers.core.network import Network
from servers.peer_auth import Verifier
from servers.service.accounts import Accounts
from servers.service.coordinator import Coordinator
from servers.service.engine import Engine
from servers.service.participant import Participant
from servers.service.peers import PeerRefused, PeerUnavailable
from servers.service.requests import Requests
from servers.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Server:
    """One company's server, assembled; `start()` runs its recovery loop, `close()` stops everything."""

    settings: Settings
    network: Network
    store: SqliteEventStore
    engine: Engine
    accounts: Accounts
    participant: Participant
    coordinator: Coordinator
    peers: HttpPeers
    verifier: Verifier
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def company(self) -> str:
        return self.settings.company

    def start(self) -> None:
        """Resume unfinished trips now, then keep doing so every tick."""
        self._thread = threading.Thread(target=self._loop, name=f"recovery-{self.company}", daemon=True)
        self._thread.start()

    def tick(self) -> None:
        """One round of cooperative termination and recovery, for both roles."""
        now = self.engine.clock()
        self.coordinator.resume(now)
        for trip_id, coordinator in self.participant.overdue(now):
            try:
                outcome = self.peers.outcome(coordinator, trip_id)
            except (PeerUnavailable, PeerRefused) as exc:
                # Never drop a hold we voted yes on without the outcome: wait and ask again.
                log.warning("trip %s: coordinator %s unreachable (%s); keeping the hold", trip_id, coordinator,
                            exc)
                self.participant.extend(trip_id, now)
                continue
            if outcome == "commit":
                self.participant.commit(trip_id)
            else:
                self.participant.abort(trip_id, "aborted (asked the coordinator)")
        self.participant.record_no_shows(now)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.tick_s):
            try:
                self.tick()
            except Exception:  # the loop must outlive one bad round; the next retries
                log.exception("recovery round failed")

    def close(self) -> None:
        """Stop the loop, the pools and the log."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.engine.snapshot_if_due()
        self.coordinator.close()
        self.peers.close()
        self.store.close()


def build_server(settings: Settings) -> Server:
    """Open the log, replay it, and assemble the services."""
    network = settings.network()
    path = settings.resolved_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SqliteEventStore(path, synchronous=settings.synchronous)
    report = store.verify()
    if not report.ok:
        store.close()
        raise RuntimeError(f"the event log {path} is damaged at seq {report.first_bad_seq}: {report.reason}; "
                           "refusing to serve from it")
    engine = Engine(store, snapshots=SnapshotStore(path.with_suffix(".snapshots.db")))
    if store.get_meta("company") is None:
        store.set_meta("company", settings.company)
    requests = Requests(engine)
    accounts = Accounts(engine, requests, settings.broker_key, timedelta(seconds=settings.token_ttl_s))
    participant = Participant(engine, network, settings.company,
                              hold_timeout=timedelta(seconds=settings.hold_timeout_s))
    holder: dict[str, Coordinator] = {}
    peers = HttpPeers(settings.company, settings.peer_addresses(network), settings.peer_secrets, participant,
                      lambda trip_id: holder["c"].outcome(trip_id), timeout_s=settings.peer_timeout_s)
    coordinator = Coordinator(engine, requests, network, settings.company, peers,
                              stale_after=timedelta(seconds=settings.stale_trip_s))
    holder["c"] = coordinator
    verifier = Verifier(settings.company, settings.peer_secrets)
    return Server(settings, network, store, engine, accounts, participant, coordinator, peers, verifier)
