"""A storm: many vehicles at once, each with its own MQTT login at its home company, on one event loop.

    result = asyncio.run(run_storm(load_endpoints(), vehicles=300, origin="vitoria-da-conquista",
                                   destination="fortaleza", departures=spread(300, days=30)))

Each vehicle signs up over MQTT (the sign-up channel, as the terminal client
does), connects with the broker login it was given, and then — all at the
same moment — asks for one trip with `book`. What a load generator must not
do is cost more than what it measures: a thread per vehicle (as `fleet` and
`VehicleClient` have) would take the cores the servers need, so here every
vehicle is a paho client driven by one asyncio loop (`contract.mqtt_loop`).
The result counts answers by kind and the latency of each (from the moment
the request was published to the moment its reply arrived).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from contract import topics
from contract.fake import fake_vehicle_form
from contract.mqtt import new_client, request_properties, session_properties
from contract.mqtt_loop import ConnectRefused, LoopMqtt

from .config import Endpoint
from .fleet import percentile

# A car that can drive the corridor with three stops or so, and the credit for one trip many times over.
STORM_CAR = {"capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "charge_kwh": 54.0, "max_ac_kw": 11.0,
             "max_dc_kw": 100.0, "profile": "normal", "initial_credit": 10_000.0}


class RequestTimedOut(Exception):
    """No reply within the timeout."""


class AsyncRpc:
    """Request/reply over one pair of topics, on the running event loop (a vehicle, or the sign-up login)."""

    def __init__(self, host: str, port: int, *, request_topic: str, reply_topic: str, username: str,
                 password: str, client_id: str) -> None:
        self.host, self.port = host, port
        self.request_topic, self.reply_topic = request_topic, reply_topic
        self.token: str | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # What the server told without being asked (a failed charger: `op: "notice"`), with when it came.
        self.notices: list[tuple[float, dict[str, Any]]] = []
        client = new_client(client_id, username, password)
        client.message_callback_add(reply_topic, self._on_reply)
        client.on_subscribe = self._on_subscribe
        self._mqtt = LoopMqtt(client, reconnect=False)
        self._client = client
        self._subscribed: asyncio.Future[None] | None = None

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect, log in and subscribe to the reply topic."""
        self._subscribed = asyncio.get_running_loop().create_future()
        await self._mqtt.connect(self.host, self.port, clean_start=True, properties=session_properties(60),
                                 timeout=timeout)
        self._client.subscribe(self.reply_topic, qos=1)
        await asyncio.wait_for(self._subscribed, timeout)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if self._subscribed is not None and not self._subscribed.done():
            self._subscribed.set_result(None)

    def _on_reply(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            reply = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            return
        if reply.get("op") == "notice" and reply.get("id") is None:
            self.notices.append((time.time(), reply.get("result") or {}))
            return
        future = self._pending.pop(str(reply.get("id")), None)
        if future is not None and not future.done():
            future.set_result(reply)

    async def request(self, op: str, args: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Send one request; its whole reply (`ok`, `result` or `error`), or RequestTimedOut."""
        rid = uuid.uuid4().hex
        body: dict[str, Any] = {"id": rid, "op": op, "args": args}
        if self.token is not None:
            body["token"] = self.token
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        self._client.publish(self.request_topic, orjson.dumps(body), qos=1,
                             properties=request_properties(self.reply_topic, rid.encode()))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._pending.pop(rid, None)
            raise RequestTimedOut(f"{op}: no reply within {timeout:g} s") from None

    async def close(self) -> None:
        await self._mqtt.disconnect()


def signup_rpc(endpoint: Endpoint) -> AsyncRpc:
    """The shared sign-up login of a company, as one client."""
    client_id = "storm-signup-" + uuid.uuid4().hex[:8]
    return AsyncRpc(endpoint.broker_host, endpoint.broker_port,
                    request_topic=topics.signup_request(endpoint.company, client_id),
                    reply_topic=topics.signup_reply(endpoint.company, client_id),
                    username=endpoint.signup_username, password=endpoint.signup_password, client_id=client_id)


def vehicle_rpc(endpoint: Endpoint, session: dict[str, Any]) -> AsyncRpc:
    """A signed-up vehicle's own connection to its home broker."""
    vid = session["vehicle_id"]
    rpc = AsyncRpc(endpoint.broker_host, endpoint.broker_port,
                   request_topic=topics.vehicle_request(endpoint.company, vid),
                   reply_topic=topics.vehicle_reply(endpoint.company, vid),
                   username=session["broker"]["username"], password=session["broker"]["password"],
                   client_id=f"{vid}-storm")
    rpc.token = session["token"]
    return rpc


def spread(n: int, *, days: float = 30.0, start_in: timedelta = timedelta(hours=6)) -> list[datetime]:
    """n departures spread evenly over `days`, the first `start_in` from now (conflict-free storms)."""
    first = datetime.now(UTC) + start_in
    step = timedelta(days=days) / max(n, 1)
    return [first + step * i for i in range(n)]


def within(n: int, *, hours: float = 10.0, seed: int = 1) -> list[datetime]:
    """n departures at random within the next `hours` (after one hour): a storm that must mostly be refused."""
    rng = random.Random(seed)
    now = datetime.now(UTC) + timedelta(hours=1)
    return [now + timedelta(hours=rng.uniform(0.0, hours)) for _ in range(n)]


# Two cars on the same route whose departures are closer than this want the same chargers at the same time.
COMPETING = timedelta(minutes=30)


@dataclass(frozen=True)
class Asked:
    """One answer of a storm on one route: when the server says the car asked, its departure, and the outcome."""

    asked_at: datetime
    departure: datetime
    confirmed: bool


def earliest_askers_share(answers: list[Asked], competing: timedelta = COMPETING) -> float | None:
    """The share of confirmed trips that no earlier asker lost to: no car that asked before, for a departure
    within `competing` of it, was refused. None when nothing was confirmed."""
    confirmed = [a for a in answers if a.confirmed]
    if not confirmed:
        return None
    refused = sorted((a for a in answers if not a.confirmed), key=lambda a: a.departure)
    starts = [a.departure for a in refused]
    fair = 0
    for c in confirmed:
        lo, hi = bisect_left(starts, c.departure - competing), bisect_right(starts, c.departure + competing)
        fair += not any(r.asked_at < c.asked_at for r in refused[lo:hi])
    return fair / len(confirmed)


@dataclass
class StormResult:
    """What a storm got back: answers by kind, latencies, and when the storm ran (monotonic seconds)."""

    vehicles: int
    started: float = 0.0
    ended: float = 0.0
    confirmed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    refusals_with_alternatives: int = 0
    asked: list[Asked] = field(default_factory=list)  # every answer that says when its car asked

    @property
    def answered(self) -> int:
        return self.confirmed + sum(self.refused.values()) + sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        """The figures, for people and for JSON."""
        elapsed = max(self.ended - self.started, 1e-9)
        lat = self.latencies_ms
        return {"vehicles": self.vehicles, "elapsed_s": round(elapsed, 3), "confirmed": self.confirmed,
                "refused": dict(self.refused), "errors": dict(self.errors), "timeouts": self.timeouts,
                "answered": self.answered, "confirmed_per_s": round(self.confirmed / elapsed, 1),
                "answered_per_s": round(self.answered / elapsed, 1),
                "refusals_with_alternatives": self.refusals_with_alternatives,
                "earliest_askers_share": earliest_askers_share(self.asked),
                "latency_ms": {q: round(percentile(lat, p), 1) for q, p in
                               (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}}


async def _bounded(n: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(n)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(j) for j in jobs))


async def prepare_vehicles(endpoints: dict[str, Endpoint], vehicles: int, *, companies: list[str] | None = None,
                           seed: int = 1, concurrency: int = 64) -> list[AsyncRpc]:
    """Sign up `vehicles` cars round-robin over the companies and connect each with its own login."""
    homes = companies or sorted(endpoints)
    rng = random.Random(seed)
    signups = {c: signup_rpc(endpoints[c]) for c in homes}
    await asyncio.gather(*(s.connect() for s in signups.values()))
    try:
        forms = [(homes[i % len(homes)], {**fake_vehicle_form(rng.getrandbits(63)), **STORM_CAR})
                 for i in range(vehicles)]

        async def sign_up(home: str, form: dict[str, Any]) -> AsyncRpc:
            reply = await signups[home].request("signup", form, timeout=120)
            pending_until = time.monotonic() + 60.0
            while not reply.get("ok") and (reply.get("error") or {}).get("code") == "BROKER_LOGIN_PENDING" \
                    and time.monotonic() < pending_until:
                # The account exists; the broker is still catching up with its logins (a fresh broker syncing
                # a long list): log in again, as the reply says.
                await asyncio.sleep(0.5)
                reply = await signups[home].request("login", {"login": form["cpf"], "password": form["password"]},
                                                    timeout=120)
            if not reply.get("ok"):
                raise RuntimeError(f"sign-up refused at {home}: {reply.get('error')}")
            deadline = time.monotonic() + 30.0
            while True:
                car = vehicle_rpc(endpoints[home], reply["result"])
                try:
                    await car.connect()
                    return car
                except ConnectRefused:
                    # A broker that reloads its password file on SIGHUP (before the dynamic-security plugin) may
                    # not know the login yet when the sign-up is answered: try again shortly, as an app would.
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

        return await _bounded(concurrency, [partial(sign_up, h, f) for h, f in forms])
    finally:
        await asyncio.gather(*(s.close() for s in signups.values()))


async def storm(cars: list[AsyncRpc], origin: str, destination: str, departures: list[datetime], *,
                timeout: float = 60.0) -> StormResult:
    """Every car asks for its trip at the same moment; the answers as they come."""
    result = StormResult(vehicles=len(cars))

    async def book(car: AsyncRpc, departure: datetime) -> None:
        sent = time.perf_counter()
        try:
            reply = await car.request("book", {"origin": origin, "destination": destination,
                                               "departure": departure.isoformat()}, timeout)
        except RequestTimedOut:
            result.timeouts += 1
            return
        result.latencies_ms.append(1000 * (time.perf_counter() - sent))
        error = reply.get("error") or {}
        details = error.get("details") or {}
        asked_at = (reply.get("result") or details).get("asked_at")
        if asked_at:
            result.asked.append(Asked(datetime.fromisoformat(asked_at), departure, bool(reply.get("ok"))))
        if reply.get("ok"):
            result.confirmed += 1
            return
        if details.get("status") in ("REJECTED", "FAILED"):
            result.refused[str(error.get("code"))] += 1
            alternatives = details.get("alternatives") or {}
            if alternatives.get("plans") or alternatives.get("points"):
                result.refusals_with_alternatives += 1
        else:
            result.errors[str(error.get("code"))] += 1

    result.started = time.monotonic()
    await asyncio.gather(*(book(c, d) for c, d in zip(cars, departures, strict=True)))
    result.ended = time.monotonic()
    return result


async def close_all(cars: list[AsyncRpc]) -> None:
    """Disconnect every car."""
    await asyncio.gather(*(c.close() for c in cars))
