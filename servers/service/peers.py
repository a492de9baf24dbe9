"""How a coordinator reaches a trip's participants: one `Peer` per company, itself included.

The home company's own participant is a `LocalPeer` (called in-process, its
events staged in the same log as the decision); other companies are reached
over signed REST (`servers.adapters.peer_client.HttpPeer`). Both speak the
same port, so the coordinator never asks "is this my own company?".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from contract.models import CheckInIn, NoticeIn, PrepareIn
from servers.bookings.errors import DomainError
from servers.bookings.events import Vote
from servers.service.participant import Participant


class PeerUnavailable(Exception):
    """A peer did not answer (down, timed out, or failed); the call may be retried."""


class PeerRefused(Exception):
    """A peer answered with an error (e.g. a protocol violation); retrying will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Peer(Protocol):
    """The participant operations of one company (and its coordinator's outcome)."""

    company: str

    async def prepare(self, req: PrepareIn) -> Vote: ...

    async def commit(self, trip_id: str) -> dict[str, Any]: ...

    async def abort(self, trip_id: str, reason: str) -> dict[str, Any]: ...

    async def release(self, trip_id: str, reason: str, stops: list[int] | None = None) -> dict[str, Any]: ...

    async def outcome(self, trip_id: str, asked_by: str | None = None, point_id: str | None = None) -> str: ...

    async def check_in(self, req: CheckInIn) -> dict[str, Any]: ...

    async def notice(self, req: NoticeIn) -> dict[str, Any]: ...


Peers = dict[str, Peer]


class LocalPeer:
    """This company as a participant of its own trips: the participant called directly.

    Its events are staged in the log the decision goes to; they are durable before the decision is,
    so nothing here waits for the disk.
    """

    def __init__(self, company: str, participant: Participant,
                 outcome: Callable[[str, str | None, str | None], str],
                 notice: Callable[[str, NoticeIn], dict[str, Any]]) -> None:
        self.company = company
        self.participant = participant
        self._outcome = outcome
        self._notice = notice

    async def prepare(self, req: PrepareIn) -> Vote:
        try:
            return await self.participant.prepare(req)
        except DomainError as exc:
            raise PeerRefused(exc.status, exc.code, exc.message) from exc

    async def commit(self, trip_id: str) -> dict[str, Any]:
        return _local(lambda: self.participant.commit(trip_id))

    async def abort(self, trip_id: str, reason: str) -> dict[str, Any]:
        return _local(lambda: self.participant.abort(trip_id, reason))

    async def release(self, trip_id: str, reason: str, stops: list[int] | None = None) -> dict[str, Any]:
        return _local(lambda: self.participant.release(trip_id, reason, stops))

    async def outcome(self, trip_id: str, asked_by: str | None = None, point_id: str | None = None) -> str:
        return self._outcome(trip_id, asked_by, point_id)

    async def check_in(self, req: CheckInIn) -> dict[str, Any]:
        return _local(lambda: self.participant.check_in(req, caller=self.company))

    async def notice(self, req: NoticeIn) -> dict[str, Any]:
        return _local(lambda: self._notice(self.company, req))


def outcome_asker(peers: Peers) -> Callable[[str, str, str, str], Awaitable[str]]:
    """(coordinator, trip, asked by, point) -> its outcome, through `peers`: how a participant asks a trip to
    yield a point."""
    async def ask(company: str, trip_id: str, asked_by: str, point_id: str) -> str:
        peer = peers.get(company)
        if peer is None:
            raise PeerUnavailable(f"no address for company {company!r}")
        return await peer.outcome(trip_id, asked_by, point_id)

    return ask


R = TypeVar("R")


def _local(call: Callable[[], R]) -> R:
    """A domain refusal of our own participant, as a peer's refusal (the coordinator treats both alike)."""
    try:
        return call()
    except DomainError as exc:
        raise PeerRefused(exc.status, exc.code, exc.message) from exc
