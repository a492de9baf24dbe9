"""`/peer/v1`: what other companies call — prepare, commit, abort, release, outcome, check-in, availability.

Every route needs a signed request (see `servers.peer_auth`). `/batch` carries
many operations in one request (what the servers send each other under load);
the single routes are the same operations one at a time (for people with
Postman). Operations are decided on the event loop, then the answer waits for
the disk: a vote or a confirmation is never sent before it is durable.

`/batch` and `/occupancy` are what servers call each other with all day: they
answer with `json_reply` (servers/api/replies.py), as does `/availability`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import msgspec
from fastapi import APIRouter, Query
from fastapi.responses import Response

from contract.models import (
    BatchIn,
    BatchOut,
    CheckInIn,
    CheckInOp,
    CheckInOut,
    DecisionIn,
    DecisionOp,
    DecisionOut,
    NoticeIn,
    NoticeOp,
    NoticeOut,
    OccupancyOut,
    OutcomeIn,
    OutcomeOp,
    OutcomeOut,
    PrepareIn,
    PrepareOp,
    StationAvailabilityOut,
    VoteOut,
)
from servers.api.deps import PeerDep, ServerDep
from servers.api.errors import INVALID, PEER, WRITES, errors
from servers.api.replies import json_reply
from servers.bookings.errors import DomainError
from servers.bootstrap import Server

router = APIRouter(prefix="/peer/v1", tags=["peer"])
Op = PrepareOp | DecisionOp | OutcomeOp | CheckInOp | NoticeOp


async def apply(server: Server, peer: str, op: Op) -> dict[str, Any]:
    """Decide one peer operation (staged in the log, not yet durable); DomainError if refused.

    Only a prepare may wait (for later trips in its way to yield); the rest decide at once.
    """
    handlers: dict[str, Callable[[], dict[str, Any]]] = {}
    if isinstance(op, PrepareOp):
        if op.args.coordinator != peer:
            raise DomainError("a peer can only prepare trips it coordinates", code="NOT_COORDINATOR")
        return msgspec.to_builtins(await server.participant.prepare(op.args))  # type: ignore[no-any-return]
    if isinstance(op, DecisionOp):
        args = op.args
        handlers = {"commit": lambda: server.participant.commit(args.trip_id),
                    "abort": lambda: server.participant.abort(args.trip_id, args.reason or "aborted by coordinator"),
                    "release": lambda: server.participant.release(args.trip_id, args.reason or "cancelled", args.stops)}
        return handlers[op.op]()
    if isinstance(op, OutcomeOp):
        asked = op.args
        return {"trip_id": asked.trip_id, "outcome": server.coordinator.outcome(asked.trip_id, asked.asked_by,
                                                                               asked.point_id)}
    if isinstance(op, NoticeOp):
        return server.coordinator.notice(peer, op.args)
    return server.participant.check_in(op.args, caller=peer)


async def _result(server: Server, peer: str, op: Op) -> dict[str, Any]:
    """One operation's `OpResult`, as a dict."""
    try:
        return {"ok": True, "result": await apply(server, peer, op), "error": None}
    except DomainError as exc:
        return {"ok": False, "result": None, "error": {"code": exc.code, "message": exc.message,
                                                       "status": exc.status, "details": exc.details}}


async def _one(server: Server, peer: str, op: Op) -> dict[str, Any]:
    result = await apply(server, peer, op)
    await server.engine.durable()
    return result


@router.post("/batch", summary="Many operations (prepare, commit, abort, release, outcome, check_in) in one request",
             response_model=BatchOut, responses=errors(PEER, INVALID, WRITES))
async def batch(body: BatchIn, peer: PeerDep, server: ServerDep) -> Response:
    """Each result is what the operation's own route answers (`ok`), or its error with that route's status."""
    # Declared for OpenAPI and for requests the direct route hands on; servers reach `decide_batch` directly
    # (servers/api/peer_direct.py).
    return await decide_batch(server, peer, body)


async def decide_batch(server: Server, peer: str, body: BatchIn) -> Response:
    """Apply a batch's operations, wait for the disk once, answer `BatchOut`'s JSON: the one body of `/batch`."""
    # In order: each operation runs to its first wait before the next starts (only a prepare ever waits).
    results = await asyncio.gather(*(_result(server, peer, op) for op in body.ops))
    await server.engine.durable()  # one fsync for the whole batch
    return json_reply({"results": results})


# `response_model_exclude_unset`: fields a vote or a check-in leaves out stay out, as in a batch's result.
@router.post("/prepare", summary="Phase one: hold points for a trip's stops, or refuse with alternatives",
             response_model=VoteOut, response_model_exclude_unset=True,
             responses=errors(PEER, {400: ["NOT_COORDINATOR"]}, INVALID, WRITES))
async def prepare(body: PrepareIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    """A refusal is not an error: it is a 200 with a `no` vote, recorded in the log like a yes."""
    return await _one(server, peer, PrepareOp(op="prepare", args=body))


@router.post("/commit", summary="Phase two: the trip was committed — confirm its holds", response_model=DecisionOut,
             responses=errors(PEER, {404: ["UNKNOWN_TRIP"], 409: ["NOT_HELD"]}, INVALID, WRITES))
async def commit(body: DecisionIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await _one(server, peer, DecisionOp(op="commit", args=body))


@router.post("/abort", summary="Phase two: the trip was aborted — release its holds", response_model=DecisionOut,
             responses=errors(PEER, {409: ["COMMITTED"]}, INVALID, WRITES))
async def abort(body: DecisionIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await _one(server, peer, DecisionOp(op="abort", args=body))


@router.post("/release", summary="The trip was cancelled — release its reservations", response_model=DecisionOut,
             responses=errors(PEER, INVALID, WRITES))
async def release(body: DecisionIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await _one(server, peer, DecisionOp(op="release", args=body))


@router.get("/trips/{trip_id}/outcome", summary="Cooperative termination: commit or abort (undecided → abort)",
            response_model=OutcomeOut, responses=errors(PEER, INVALID, WRITES))
async def outcome(trip_id: str, peer: PeerDep, server: ServerDep,
                  asked_by: str | None = Query(default=None, min_length=1, max_length=64),
                  point_id: str | None = Query(default=None, min_length=1, max_length=64)) -> dict[str, Any]:
    """`asked_by` (and `point_id`): a participant asks on behalf of an earlier trip that wants this one's point;
    an undecided trip is then aborted as YIELDED (the priority rule, docs/booking.md)."""
    return await _one(server, peer, OutcomeOp(op="outcome", args=OutcomeIn(trip_id=trip_id, asked_by=asked_by,
                                                                           point_id=point_id)))


@router.post("/check-in", summary="A vehicle starts or finishes charging at a reserved point",
             response_model=CheckInOut, response_model_exclude_unset=True, responses=errors(
                 PEER, {404: ["UNKNOWN_TRIP", "UNKNOWN_STOP"],
                        409: ["NOT_RESERVED", "ALREADY_DONE", "NOT_CHARGING", "NO_SHOW"]},
                 INVALID, WRITES))
async def check_in(body: CheckInIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    return await _one(server, peer, CheckInOp(op="check_in", args=body))


@router.post("/notices", summary="A stop's point failed: moved within its station, or to be re-booked",
             response_model=NoticeOut, responses=errors(PEER, {404: ["UNKNOWN_TRIP", "UNKNOWN_STOP"],
                                                               403: ["NOT_YOUR_STOP"]}, INVALID, WRITES))
async def notice(body: NoticeIn, peer: PeerDep, server: ServerDep) -> dict[str, Any]:
    """Sent by a stop's company to the trip's coordinator, which tells the driver (and re-books a BROKEN stop)."""
    return await _one(server, peer, NoticeOp(op="notice", args=body))


@router.get("/occupancy", summary="What is booked here: the changes after a log position (long poll), or all of it",
            response_model=OccupancyOut, responses=errors(PEER, INVALID))
async def occupancy(_: PeerDep, server: ServerDep, after: int = Query(default=-1, ge=-1),
                    wait: float = Query(default=0.0, ge=0, le=10)) -> Response:
    return await occupancy_since(server, after, wait)


async def occupancy_since(server: Server, after: int, wait: float) -> Response:
    """The changes after log position `after`, waiting up to `wait` s for one: the one body of `/occupancy`."""
    changes = await server.feed.wait(after, wait)
    return json_reply(changes.to_json())


@router.get("/availability/{station_id}", summary="A station's points and their bookings in a window",
            response_model=StationAvailabilityOut,
            responses=errors(PEER, {404: ["UNKNOWN_STATION"]}, INVALID))
async def availability(station_id: str, _: PeerDep, server: ServerDep,
                       start: datetime | None = None,
                       hours: float = Query(default=6.0, gt=0, le=72)) -> Response:
    begin = start or server.engine.clock()
    return json_reply(server.participant.availability(station_id, begin, begin + timedelta(hours=hours)))
