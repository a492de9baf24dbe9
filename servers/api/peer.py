"""`/peer/v1`: what other companies call — prepare, commit, abort, release, outcome, availability.

Every route needs a signed request (see `servers.peer_auth`). They run on a
thread pool of their own so that a flood of client bookings (which wait on
peers) can never starve the peer calls those bookings are waiting for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Query

from servers.api.deps import PeerDep, ServerDep
from servers.contract.models import DecisionIn, PeerCheckInIn, PrepareIn
from servers.domain.errors import DomainError

router = APIRouter(prefix="/peer/v1", tags=["peer"])
T = TypeVar("T")
_limiter: anyio.CapacityLimiter | None = None


async def run(fn: Callable[[], T]) -> T:
    """Run blocking service code on the peer pool."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(16)
    return await anyio.to_thread.run_sync(fn, limiter=_limiter)


@router.post("/prepare", summary="Phase one: hold points for a trip's stops, or refuse with alternatives")
async def prepare(body: PrepareIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    if body.coordinator != peer:
        raise DomainError("a peer can only prepare trips it coordinates", code="NOT_COORDINATOR")
    return await run(lambda: server.participant.prepare(body))


@router.post("/commit", summary="Phase two: the trip was committed — confirm its holds")
async def commit(body: DecisionIn, _: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await run(lambda: server.participant.commit(body.trip_id))


@router.post("/abort", summary="Phase two: the trip was aborted — release its holds")
async def abort(body: DecisionIn, _: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await run(lambda: server.participant.abort(body.trip_id, body.reason or "aborted by coordinator"))


@router.post("/release", summary="The trip was cancelled — release its reservations")
async def release(body: DecisionIn, _: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await run(lambda: server.participant.release(body.trip_id, body.reason or "cancelled"))


@router.get("/trips/{trip_id}/outcome", summary="Cooperative termination: commit or abort (undecided → abort)")
async def outcome(trip_id: str, _: PeerDep, server: ServerDep) -> dict[str, str]:
    return {"trip_id": trip_id, "outcome": await run(lambda: server.coordinator.outcome(trip_id))}


@router.post("/check-in", summary="A vehicle starts or finishes charging at a reserved point")
async def check_in(body: PeerCheckInIn, _: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await run(lambda: server.participant.check_in(body))


@router.get("/availability/{station_id}", summary="A station's points and their bookings in a window")
async def availability(station_id: str, _: PeerDep, server: ServerDep,
                       start: datetime | None = None,
                       hours: float = Query(default=6.0, gt=0, le=72)) -> dict[str, Any]:
    begin = start or server.engine.clock()
    return await run(lambda: server.participant.availability(station_id, begin, begin + timedelta(hours=hours)))
