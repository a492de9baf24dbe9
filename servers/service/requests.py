"""A vehicle's request ids: each is answered once, whatever the operation, and the answer is kept in the log.

A driver's app retries with the same id when a reply is slow; the server must
never do the work twice. The id is claimed before any work starts (one holder
at a time per id; a second request with the same id and operation waits for
the first, then gets its answer), and its first answer is appended in its own
stream `answer:{vehicle}/{request}` (version 0: a second answer could never be
appended). The answer names the operation it answered, so the same id reused
for another operation gets `REQUEST_ID_REUSED` instead of the other answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from events.model import StreamAppend
from servers.bookings import events as ev
from servers.bookings import lifecycle
from servers.bookings.errors import Conflict
from servers.bookings.events import BookingStatus
from servers.service.engine import Engine


def answer_stream(vehicle_id: str, request_id: str) -> str:
    """One request's stream: its first event is the reply (the log's stream index finds it, not memory)."""
    return f"answer:{vehicle_id}/{request_id}"


def answered(vehicle_id: str, request_id: str, op: str, reply: dict[str, Any]) -> StreamAppend:
    """Record the first reply to a request (expected at version 0: a second answer fails the append)."""
    return ev.append(answer_stream(vehicle_id, request_id),
                     ev.RequestAnswered(vehicle_id=vehicle_id, request_id=request_id, op=op, reply=reply),
                     expected_version=0)


def in_todays_words(reply: dict[str, Any]) -> dict[str, Any]:
    """A booking answer recorded before 2026-12-02 (CONFIRMED / REFUSED) in OCPI's words (RESERVED / REJECTED /
    FAILED), as the same request answered today would read."""
    status = reply.get("status")
    if status == "CONFIRMED":
        reply["status"] = BookingStatus.RESERVED
    elif status == "REFUSED":
        reply["status"] = lifecycle.refused_status(str(reply.get("code", "")))
    return reply


class RequestIdReused(Conflict):
    """The request id was already used for another operation of this vehicle."""

    code = "REQUEST_ID_REUSED"


def _reused(request_id: str, first: str, op: str) -> RequestIdReused:
    return RequestIdReused(f"request id {request_id!r} was already used for {first!r}; use a new id for {op!r}",
                           details={"request_id": request_id, "op": first})


class Requests:
    """Claims on request ids and their recorded answers, for every operation that records one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._claims: dict[str, tuple[str, asyncio.Future[None]]] = {}  # key -> (op, done)

    def answer(self, vehicle_id: str, request_id: str, op: str) -> dict[str, Any] | None:
        """The first reply recorded for this request, None if never answered; RequestIdReused for another op."""
        claim = self._claims.get(f"{vehicle_id}/{request_id}")
        if claim is not None and claim[0] != op:
            raise _reused(request_id, claim[0], op)
        event = self.engine.first(answer_stream(vehicle_id, request_id))
        if event is None:
            return None
        answer = ev.parse(event)
        assert isinstance(answer, ev.RequestAnswered)
        if answer.op is not None and answer.op != op:  # logs written before answers named their op have none
            raise _reused(request_id, answer.op, op)
        return in_todays_words(dict(answer.reply))

    @asynccontextmanager
    async def claim(self, vehicle_id: str, request_id: str, op: str) -> AsyncIterator[dict[str, Any] | None]:
        """Hold the request id while its work runs; yields its recorded answer (then do nothing) or None."""
        key = f"{vehicle_id}/{request_id}"
        while (claim := self._claims.get(key)) is not None:
            if claim[0] != op:
                raise _reused(request_id, claim[0], op)
            await asyncio.shield(claim[1])  # the same request again while the first runs: wait for its answer
        done = asyncio.get_running_loop().create_future()
        self._claims[key] = (op, done)
        try:
            yield self.answer(vehicle_id, request_id, op)
        finally:
            del self._claims[key]
            done.set_result(None)
