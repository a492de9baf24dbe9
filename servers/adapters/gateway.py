"""The MQTT gateway: vehicles' requests from the company's broker to the services, and live topics back.

- Requests: `…/vehicles/{id}/request` (a token is required; it must be that
  vehicle's) and `…/signup/{client}/request` (sign-up, login, a Faker form).
  Each is validated against its operation's model (`VEHICLE_OPS`, `SIGNUP_OPS`),
  served on the event loop, and answered — once what it decided is durable —
  on the sender's own reply topic with its correlation data. A repeated
  request id gets the first answer.
- Live topics (`servers.adapters.live`): retained availability per station,
  a feed of booking events, and a retained online/offline status.
- Broker logins: kept equal to the log's accounts through the broker's
  dynamic-security plugin (`broker_logins.VehicleLogins`); a sign-up or login
  is answered once the broker accepts that vehicle's login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract import topics
from contract.fake import fake_vehicle_form
from contract.models import (
    CancelIn,
    CheckInIn,
    CreditIn,
    FakeIn,
    LoginIn,
    LogoutIn,
    PlanArgs,
    SignupIn,
    TripIn,
    TripRefIn,
    VehicleUpdateIn,
)
from contract.mqtt import correlation_properties, new_client, session_properties
from contract.mqtt_loop import ConnectRefused, LoopMqtt
from servers.adapters.broker_logins import VehicleLogins
from servers.adapters.driver_notices import DriverNotices
from servers.adapters.live import LiveTopics
from servers.adapters.packets import PacketBudget
from servers.bookings import lifecycle
from servers.bookings.errors import DomainError, Unauthorized
from servers.bookings.events import CanceledReason
from servers.bootstrap import Server
from servers.service import views
from servers.service.requests import RequestIdReused

log = logging.getLogger(__name__)

# Below the broker's own limit (64 KiB, which drops the sender), so an oversized request still gets an answer.
MAX_PAYLOAD = 16 * 1024
SESSION_EXPIRY_S = 3600
RECENT = 4096  # answers kept in memory for retransmitted ids (the log keeps the booking and credit ones)
INFLIGHT = 1000  # QoS 1 replies in flight at once (paho's default is 20)


class Envelope(BaseModel):
    """A request: a unique id, an operation, its arguments, and the session token."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    op: str = Field(min_length=1, max_length=32)
    args: dict[str, Any] = Field(default_factory=dict)
    token: str | None = Field(default=None, max_length=200)


class BadRequest(DomainError):
    """The payload is not a valid request."""

    code = "BAD_REQUEST"


Handler = Callable[[Server, str, Any, str], Awaitable[Any]]


@dataclass(frozen=True)
class Op:
    """One operation of a request topic: the model of its arguments and what serves it."""

    args: type[BaseModel]
    handler: Handler


async def _account(s: Server, vid: str, args: Any, rid: str) -> Any:
    return s.accounts.view(vid)


async def _add_credit(s: Server, vid: str, args: CreditIn, rid: str) -> Any:
    return s.accounts.add_credit(vid, args.amount, rid)


async def _plan(s: Server, vid: str, args: PlanArgs, rid: str) -> Any:
    vehicle = s.planner.vehicle_of(vid, args)
    plans = s.planner.plan(args, vehicle, s.planner.exclusions(args.avoid_stations), k=args.alternatives)
    return {"plans": [s.planner.explain(p, vehicle) for p in plans]}


async def _book(s: Server, vid: str, args: TripIn, rid: str) -> Any:
    return await s.coordinator.book(vid, rid, args)


async def _trips(s: Server, vid: str, args: Any, rid: str) -> Any:
    return {"trips": s.trips.trips_of(vid)}


async def _trip(s: Server, vid: str, args: TripRefIn, rid: str) -> Any:
    return s.trips.trip_of(vid, args.trip_id)


async def _reservations(s: Server, vid: str, args: Any, rid: str) -> Any:
    return {"reservations": s.trips.reservations_of(vid)}


async def _cancel(s: Server, vid: str, args: CancelIn, rid: str) -> Any:
    return await s.coordinator.cancel(vid, args.trip_id, CanceledReason(args.reason), args.note)


async def _check_in(s: Server, vid: str, args: CheckInIn, rid: str) -> Any:
    return await s.coordinator.check_in(vid, args)


async def _logout(s: Server, vid: str, args: LogoutIn, rid: str) -> Any:
    if args.token is not None:
        s.accounts.logout(args.token)
    return {"logged_out": True}


async def _update_vehicle(s: Server, vid: str, args: VehicleUpdateIn, rid: str) -> Any:
    s.accounts.update_vehicle(vid, args.model_dump(exclude_none=True))
    return s.accounts.view(vid)["vehicle"]


def _fitted(reply: dict[str, Any], fits: Callable[[bytes], bool]) -> bytes | None:
    """A list answer (`trips`, `reservations`: newest first) too large for one packet, cut to the first items that
    fit, `omitted` saying how many were left out (the REST API lists them all); None for any other answer."""
    result = reply.get("result")
    if not isinstance(result, dict) or len(result) != 1:
        return None
    ((key, items),) = result.items()
    if not isinstance(items, list):
        return None

    def cut(n: int) -> bytes:
        return orjson.dumps({**reply, "result": {key: items[:n], "omitted": len(items) - n}}, default=str)

    low, high = 0, len(items)  # the most items that fit: a bisection (a rare path, a few encodings)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(cut(middle)) else (low, middle - 1)
    return cut(low)


class _NoArgs(BaseModel):
    """Operations that take no arguments ignore what is sent."""

    model_config = ConfigDict(extra="ignore")


VEHICLE_OPS: dict[str, Op] = {
    "account": Op(_NoArgs, _account), "add_credit": Op(CreditIn, _add_credit), "plan": Op(PlanArgs, _plan),
    "book": Op(TripIn, _book), "trips": Op(_NoArgs, _trips), "trip": Op(TripRefIn, _trip),
    "reservations": Op(_NoArgs, _reservations),
    "cancel": Op(CancelIn, _cancel), "check_in": Op(CheckInIn, _check_in), "logout": Op(LogoutIn, _logout),
    "update_vehicle": Op(VehicleUpdateIn, _update_vehicle)}
SIGNUP_OPS = ("signup", "login", "fake")


def error_reply(rid: str, code: str, message: str, details: dict[str, Any] | None = None, *,
                op: str | None = None) -> dict[str, Any]:
    """The error shape of an MQTT reply (`op` when the request was readable enough to name one)."""
    reply: dict[str, Any] = {"id": rid, "ok": False,
                             "error": {"code": code, "message": message, "details": details or {}}}
    if op is not None:
        reply["op"] = op
    return reply


class MqttGateway:
    """Adapts the company's broker to the server's services, on the server's event loop."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.settings = server.settings
        self.company = server.company
        # (op, reply) of recent request ids: retransmissions are answered fast, a reuse for another op refused.
        # Trimmed oldest first. Not cachetools: its FIFOCache/LRUCache cost 0.8/1.4 µs per lookup and insert
        # here, this OrderedDict 0.3 µs (measured on this machine, issue #13 item 7), on every request.
        self._recent: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        port = self.settings.broker_port or server.network.company(self.company).broker_port
        self._address = (self.settings.broker_host, port)
        client = new_client(f"server-{self.company}", self.settings.broker_username, self.settings.broker_password)
        client.will_set(topics.server_status(self.company), topics.STATUS_OFFLINE, qos=1, retain=True)
        # Replies to a storm leave at once: paho would keep all but 20 unacknowledged QoS 1 messages queued.
        client.max_inflight_messages_set(INFLIGHT)
        client.on_connect = self._on_connect
        client.message_callback_add(topics.all_requests(self.company), self._on_vehicle_request)
        client.message_callback_add(topics.all_signup_requests(self.company), self._on_signup_request)
        self._mqtt = LoopMqtt(client)
        self._client = client
        self.budget = PacketBudget()
        self.live = LiveTopics(server, client, self.budget)
        self.notices = DriverNotices(server, client, self.budget)
        self.logins = VehicleLogins.connect(server)

    @classmethod
    def factory(cls, server: Server) -> MqttGateway:
        """For `create_app(server, MqttGateway.factory)`."""
        return cls(server)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Keep broker logins in sync, publish live topics from now on, connect (retried if down)."""
        await self.logins.start()
        self.live.start()
        self.notices.start()
        try:
            # A fixed client id and a kept session: requests published while we reconnect wait for us.
            await self._mqtt.connect(*self._address, keepalive=30, clean_start=False,
                                     properties=session_properties(SESSION_EXPIRY_S))
        except (OSError, ConnectRefused) as exc:
            log.error("broker %s:%d not reachable yet (%s); retrying in the background", *self._address, exc)

    async def stop(self) -> None:
        """Say offline, disconnect, stop the live topics."""
        await self.live.stop()
        with contextlib.suppress(RuntimeError, ValueError):
            self._client.publish(topics.server_status(self.company), topics.STATUS_OFFLINE, qos=1, retain=True)
        await self._mqtt.disconnect()
        await self.logins.stop()
        for task in list(self._tasks):
            task.cancel()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the server's login: %s", reason)
            return
        self.budget.learn(props)
        client.subscribe(topics.all_requests(self.company), qos=1)
        client.subscribe(topics.all_signup_requests(self.company), qos=1)
        client.publish(topics.server_status(self.company), topics.STATUS_ONLINE, qos=1, retain=True)
        self.live.publish_all_availability()

    # -- requests -------------------------------------------------------------------------------
    def _on_vehicle_request(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            vehicle_id = topics.parse_vehicle_id(message.topic)
        except ValueError:
            return
        self._spawn(self._serve(message, topics.vehicle_reply(self.company, vehicle_id),
                                lambda env: self._vehicle(vehicle_id, env), vehicle_id))

    def _on_signup_request(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            client_id = topics.parse_signup_client_id(message.topic)
        except ValueError:
            return
        self._spawn(self._serve(message, topics.signup_reply(self.company, client_id), self._signup,
                                "signup:" + client_id))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: mqtt.MQTTMessage, reply_topic: str,
                     handle: Callable[[Envelope], Awaitable[Any]], who: str) -> None:
        """Validate, dedupe, handle, wait for the disk, reply — never raise (any payload gets an answer)."""
        rid, op = _readable_id(message), None
        try:
            if len(message.payload) > MAX_PAYLOAD:
                raise BadRequest(f"payload over {MAX_PAYLOAD} bytes", code="PAYLOAD_TOO_LARGE")
            try:
                raw = orjson.loads(message.payload)
            except orjson.JSONDecodeError:
                raise BadRequest("payload is not UTF-8 JSON", code="BAD_JSON") from None
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                rid = raw["id"][:64]
            try:
                env = Envelope.model_validate(raw)
            except ValidationError as exc:
                raise BadRequest("request envelope is not valid", code="BAD_REQUEST",
                                 details={"errors": _errors(exc)}) from None
            op = env.op
            key = f"{who}/{env.id}"
            recent = self._recent.get(key)
            if recent is not None and recent[0] != env.op:
                raise RequestIdReused(f"request id {env.id!r} was already used for {recent[0]!r}; use a new id "
                                      f"for {env.op!r}", details={"request_id": env.id, "op": recent[0]})
            if recent is not None:
                reply = recent[1]
            else:
                result = await handle(env)
                reply = {"id": env.id, "op": env.op, "ok": True, "result": result}
                if isinstance(result, dict) and result.get("status") in lifecycle.REFUSALS:
                    details = views.refusal_error(result)["details"]
                    reply = error_reply(env.id, result["code"], result["reason"], details, op=env.op)
                await self.server.engine.durable()  # what the answer tells is on disk before it leaves
                self._recent[key] = (env.op, reply)
                while len(self._recent) > RECENT:
                    self._recent.popitem(last=False)
        except ValidationError as exc:
            reply = error_reply(rid, "VALIDATION_ERROR", "arguments are not valid", {"errors": _errors(exc)}, op=op)
        except DomainError as exc:
            reply = error_reply(rid, exc.code, exc.message, exc.details, op=op)
        except Exception:  # a bug must not leave the vehicle waiting
            log.exception("request %s failed", rid)
            reply = error_reply(rid, "INTERNAL", "unexpected server error", op=op)
        payload = orjson.dumps(reply, default=str)
        if not self.budget.fits(reply_topic, payload):  # the broker would drop the server's connection for it
            payload = _fitted(reply, partial(self.budget.fits, reply_topic)) or orjson.dumps(error_reply(
                rid, "REPLY_TOO_LARGE", f"the answer ({len(payload)} bytes) is larger than the broker accepts; "
                "use the REST API", {"bytes": len(payload)}, op=op))
        self._client.publish(reply_topic, payload, qos=1, properties=correlation_properties(message))

    async def _signup(self, env: Envelope) -> Any:
        if env.op == "signup":
            session = await self.server.accounts.signup(SignupIn.model_validate(env.args))
        elif env.op == "login":
            body = LoginIn.model_validate(env.args)
            session = await self.server.accounts.login(body.login, body.password)
        elif env.op == "fake":
            return fake_vehicle_form(FakeIn.model_validate(env.args).seed)
        else:
            raise BadRequest(f"unknown operation {env.op!r} on the sign-up channel", code="UNKNOWN_OP",
                             details={"known": list(SIGNUP_OPS)})
        await self.server.engine.durable()
        # The login must work before the vehicle tries it: the broker has it before the answer leaves.
        await self.logins.ensure(session.vehicle_id)
        return session.to_json()

    async def _vehicle(self, vehicle_id: str, env: Envelope) -> Any:
        op = VEHICLE_OPS.get(env.op)
        if op is None:
            raise BadRequest(f"unknown operation {env.op!r}", code="UNKNOWN_OP",
                             details={"known": sorted(VEHICLE_OPS)})
        if not env.token:
            raise Unauthorized("this operation needs the session token", code="BAD_TOKEN")
        if self.server.accounts.authenticate(env.token) != vehicle_id:
            raise Unauthorized("the token is not this vehicle's", code="BAD_TOKEN")
        return await op.handler(self.server, vehicle_id, op.args.model_validate(env.args), env.id)


_ID_IN_JSON = re.compile(rb'"id"\s*:\s*"([^"\\]{1,64})"')


def _readable_id(message: mqtt.MQTTMessage) -> str:
    """The request id as far as it can be read without parsing: the correlation data, else an `"id"` near the
    start of the payload; "?" when neither is there (a reply must still say which request it answers)."""
    correlation = getattr(message.properties, "CorrelationData", None) if message.properties else None
    if isinstance(correlation, bytes | bytearray) and correlation:
        with contextlib.suppress(UnicodeDecodeError):
            return bytes(correlation[:64]).decode("utf-8")
    found = _ID_IN_JSON.search(message.payload[:4096])
    if found is not None:
        with contextlib.suppress(UnicodeDecodeError):
            return found.group(1).decode("utf-8")
    return "?"


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
