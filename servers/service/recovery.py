"""Recovery and cooperative termination, for both roles a server plays, once a tick.

- As coordinator: undecided trips nobody works on are aborted once stale, and
  decided ones are told again to every participant that has not acknowledged
  (`Coordinator.resume`).
- As participant: a hold still undecided past its deadline asks its
  coordinator for the outcome; one that cannot be reached keeps the hold (a
  yes vote is never dropped without the outcome) and asks again later.
- Reservations not begun by the no-show timeout are freed (participant) and
  recorded NO_SHOW, and trips whose every stop is over end (coordinator:
  `Lifecycle`); the picture of other companies forgets what is over; a
  snapshot is saved when due.
"""

from __future__ import annotations

import asyncio
import logging

from contract.models import NoticeIn
from servers.service.availability import Availability
from servers.service.coordinator import Coordinator
from servers.service.engine import Engine
from servers.service.lifecycle import Lifecycle
from servers.service.participant import Participant
from servers.service.peers import PeerRefused, Peers, PeerUnavailable

log = logging.getLogger(__name__)


class Recovery:
    """One round of recovery for a server (see the module's docstring)."""

    def __init__(self, engine: Engine, coordinator: Coordinator, participant: Participant, peers: Peers,
                 availability: Availability, lifecycle: Lifecycle) -> None:
        self.engine = engine
        self.lifecycle = lifecycle
        self.coordinator = coordinator
        self.participant = participant
        self.peers = peers
        self.availability = availability

    async def tick(self) -> None:
        """One round, at the engine's clock."""
        now = self.engine.clock()
        await self.coordinator.resume(now)
        for trip_id, coordinator in self.participant.overdue(now):
            peer = self.peers.get(coordinator)
            try:
                if peer is None:
                    raise PeerUnavailable(f"no address for company {coordinator!r}")
                outcome = await peer.outcome(trip_id)
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
        self.lifecycle.tick(now)
        self.participant.handle_faults(now)
        await self.deliver_notices()
        self.availability.forget_past(now)
        await self.engine.durable()
        self.engine.snapshot_if_due()

    async def deliver_notices(self) -> None:
        """Tell each trip's coordinator of its stops moved or broken here, until it has heard (durably first)."""
        pending = self.participant.pending_notices()
        if not pending:
            return
        await self.engine.durable()  # a notice tells of events: they are on disk before it leaves

        async def tell(coordinator: str, notice: NoticeIn) -> None:
            peer = self.peers.get(coordinator)
            try:
                if peer is None:
                    raise PeerUnavailable(f"no address for company {coordinator!r}")
                await peer.notice(notice)
            except PeerRefused as exc:  # a trip its coordinator no longer has: nobody to tell
                log.warning("trip %s: %s refused the notice (%s)", notice.trip_id, coordinator, exc)
            except PeerUnavailable as exc:
                log.warning("trip %s: %s not told of stop %d yet (%s)", notice.trip_id, coordinator, notice.stop,
                            exc)
                return
            self.participant.notice_delivered(notice)

        await asyncio.gather(*(tell(c, n) for c, n in pending))
