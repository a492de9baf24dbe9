"""Other companies as `Peer`s: signed `/peer/v1/batch` calls, many operations to one company per request.

Every operation for one company goes into that company's queue; a sender takes
everything queued (up to `MAX_BATCH`) in one signed request, with at most
`MAX_INFLIGHT` requests in flight per company. Alone, an operation leaves at
once; under load, the operations that arrive while a request is out share the
next one: one HTTP request, one signature, one fsync at the participant for
many trips (docs/booking.md, "Batching"). A commit is not urgent — the decision
is durable and the driver has the answer — so it waits up to
`COMMIT_LINGER_S` to ride with the next request to that company (a lone
car's next prepare carries its last trip's commits): one request and one
fsync there instead of two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from contract.models import CheckInIn, NoticeIn, PrepareIn
from servers.adapters.peer_http import HttpError, HttpPool
from servers.bookings.events import Vote, vote_of
from servers.bookings.occupancy import Changes
from servers.peer_auth import sign
from servers.service.availability import PeerPicture
from servers.service.peers import PeerRefused, PeerUnavailable

log = logging.getLogger(__name__)

BATCH_PATH = "/peer/v1/batch"
OCCUPANCY_PATH = "/peer/v1/occupancy"
FOLLOW_WAIT_S = 2.0  # how long the peer may hold a follow request open waiting for a change
FOLLOW_PAUSE_S = 0.25  # at least this long between two follow requests (per peer: n companies, n(n-1) followers)
FOLLOW_RETRY_S = 0.5  # after a failed follow request
FOLLOW_GRACE_S = 5.0  # a peer not yet heard from since we started is not taken as down before this
MAX_BATCH = 256  # operations per request
MAX_INFLIGHT = 2  # requests in flight per company: one on the wire while the next one fills
COMMIT_LINGER_S = 0.05  # the longest a commit waits for another operation to the same company


class PeerClient:
    """The signed HTTP transport to every other company: one kept-alive connection pool, one signing key set
    (the pool: `servers.adapters.peer_http`, a lean client for these few request shapes)."""

    def __init__(self, company: str, secrets: Mapping[str, str], timeout_s: float = 5.0) -> None:
        self.company = company
        self.secrets = secrets
        self.timeout_s = timeout_s
        self._pool = HttpPool(f"recarga-peer/{company}")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._pool.close()

    async def call(self, target: str, base_url: str, method: str, path: str, body: bytes = b"",
                   timeout_s: float | None = None) -> Any:
        """One signed request to `target`; its JSON answer, PeerRefused for a 4xx, PeerUnavailable otherwise."""
        headers = sign(self.secrets, self.company, target, method, path, body)
        if body:
            headers["Content-Type"] = "application/json"
        try:
            status, content = await self._pool.request(base_url.rstrip("/"), method, path, headers, body,
                                                       timeout_s if timeout_s is not None else self.timeout_s)
        except (HttpError, TimeoutError, OSError) as exc:
            raise PeerUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        if status >= 500:
            raise PeerUnavailable(f"HTTP {status}")
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise PeerUnavailable(f"HTTP {status}, not JSON") from exc
        if status >= 400:
            raise PeerRefused(status, str(data.get("code", "ERROR")), str(data.get("message", "")))
        return data

    async def batch(self, target: str, base_url: str, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send `ops` to `target` in one signed request; one result per operation, in order."""
        data = await self.call(target, base_url, "POST", BATCH_PATH, orjson.dumps({"ops": ops}))
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(ops):
            raise PeerUnavailable(f"{target} answered {len(results) if isinstance(results, list) else 'no'} "
                                  f"results for {len(ops)} operations")
        return results


class HttpPeer:
    """One other company, reached over signed REST; its operations are batched (see the module doc)."""

    def __init__(self, company: str, base_url: str, client: PeerClient) -> None:
        self.company = company
        self.base_url = base_url
        self.client = client
        self._queue: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._inflight = 0
        self._pump_scheduled = False
        self._linger: asyncio.TimerHandle | None = None  # a pump for operations that may wait (commits)
        self._senders: set[asyncio.Task[None]] = set()

    async def prepare(self, req: PrepareIn) -> Vote:
        return vote_of(await self._call("prepare", req.model_dump(mode="json")))

    async def commit(self, trip_id: str) -> dict[str, Any]:
        return await self._call("commit", {"trip_id": trip_id}, linger=True)  # type: ignore[no-any-return]

    async def abort(self, trip_id: str, reason: str) -> dict[str, Any]:
        return await self._call("abort", {"trip_id": trip_id, "reason": reason[:200]})  # type: ignore[no-any-return]

    async def release(self, trip_id: str, reason: str, stops: list[int] | None = None) -> dict[str, Any]:
        args = {"trip_id": trip_id, "reason": reason[:200], **({"stops": stops} if stops is not None else {})}
        return await self._call("release", args)  # type: ignore[no-any-return]

    async def outcome(self, trip_id: str, asked_by: str | None = None, point_id: str | None = None) -> str:
        args = {"trip_id": trip_id, **({"asked_by": asked_by, "point_id": point_id} if asked_by else {})}
        return str((await self._call("outcome", args))["outcome"])

    async def check_in(self, req: CheckInIn) -> dict[str, Any]:
        return await self._call("check_in", req.model_dump(mode="json"))  # type: ignore[no-any-return]

    async def notice(self, req: NoticeIn) -> dict[str, Any]:
        return await self._call("notice", req.model_dump(mode="json"))  # type: ignore[no-any-return]

    async def follow(self, picture: PeerPicture) -> None:
        """Keep `picture` in step with this company's bookings (its occupancy feed), for as long as we run.

        A long poll: each request waits at the peer until something changes (or `FOLLOW_WAIT_S`); between
        two requests at least `FOLLOW_PAUSE_S`, so a busy peer costs a few requests a second, whatever its rate.
        """
        after = -1  # nothing yet: the first answer is the whole picture
        began = asyncio.get_running_loop().time()
        while True:
            path = f"{OCCUPANCY_PATH}?after={after}&wait={FOLLOW_WAIT_S:g}"
            try:
                data = await self.client.call(self.company, self.base_url, "GET", path,
                                              timeout_s=FOLLOW_WAIT_S + self.client.timeout_s)
            except (PeerUnavailable, PeerRefused) as exc:
                # At start, peers come up together: a peer never heard from gets a grace period first.
                starting = after < 0 and asyncio.get_running_loop().time() - began < FOLLOW_GRACE_S
                if picture.reachable and not starting:
                    log.warning("%s's occupancy feed does not answer (%s): planning around it", self.company, exc)
                    picture.reachable = False
                await asyncio.sleep(FOLLOW_RETRY_S)
                continue
            changes = Changes.from_json(data)
            picture.mirror.apply(changes)
            if not picture.reachable:
                log.info("%s's occupancy feed answers again", self.company)
            picture.reachable = True
            after = changes.seq
            await asyncio.sleep(FOLLOW_PAUSE_S)

    async def _call(self, op: str, args: dict[str, Any], *, linger: bool = False) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(({"op": op, "args": args}, future))
        if linger:
            if not self._pump_scheduled and self._linger is None:
                self._linger = loop.call_later(COMMIT_LINGER_S, self._pump)
        elif not self._pump_scheduled:
            # After this turn of the loop, so every operation queued in it leaves in the same request.
            self._pump_scheduled = True
            loop.call_soon(self._pump)
        return await future

    def _pump(self) -> None:
        self._pump_scheduled = False
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        while self._queue and self._inflight < MAX_INFLIGHT:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._inflight += 1
            task = asyncio.create_task(self._send(batch))
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)

    async def _send(self, batch: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await self.client.batch(self.company, self.base_url, [op for op, _ in batch])
        except (PeerUnavailable, PeerRefused) as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if result.get("ok"):
                    future.set_result(result.get("result"))
                else:
                    error = result.get("error") or {}
                    future.set_exception(PeerRefused(int(error.get("status", 409)), str(error.get("code", "ERROR")),
                                                     str(error.get("message", ""))))
        finally:
            self._inflight -= 1
            if self._queue:
                self._pump()
