"""The MQTT gateway: vehicles' requests from the company's broker to the services, and live topics back.

- Requests: `…/vehicles/{id}/request` (a token is required; it must be that
  vehicle's) and `…/signup/{client}/request` (sign-up, login, a Faker form).
  Each is validated, handed to a worker pool (paho's network thread must not
  wait on bookings), answered on the sender's own reply topic with its
  correlation data. A repeated request id gets the first answer.
- Live topics: retained availability per station after every change, a feed
  of booking events, and a retained online/offline status (the last will).
- Broker logins: kept equal to the log's accounts through the broker's
  dynamic-security plugin (`broker_logins.VehicleLogins`); a sign-up or login
  is answered once the broker accepts that vehicle's login.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.model import RecordedEvent
from servers.adapters.broker_logins import VehicleLogins
from servers.bootstrap import Server
from servers.contract import topics
from servers.contract.fake import fake_vehicle_form
from servers.contract.models import CancelIn, CheckInIn, CreditIn, LoginIn, SignupIn, TripIn
from servers.contract.mqtt import correlation_properties, new_client, session_properties
from servers.core.vehicles import DrivingProfile
from servers.domain import event_types as T
from servers.domain.errors import DomainError, Unauthorized
from servers.service import views

log = logging.getLogger(__name__)

# Below the broker's own limit (64 KiB, which drops the sender), so an oversized request still gets an answer.
MAX_PAYLOAD = 16 * 1024
SESSION_EXPIRY_S = 3600
# Events that change what a station's availability looks like.
_AVAILABILITY = {T.HOLDS_PLACED, T.HOLDS_CONFIRMED, T.HOLDS_RELEASED, T.CHARGING_STARTED, T.CHARGING_FINISHED,
                 T.NO_SHOW_RECORDED, T.POINT_STATUS_CHANGED}


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


def error_reply(rid: str, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error shape of an MQTT reply."""
    return {"id": rid, "ok": False, "error": {"code": code, "message": message, "details": details or {}}}


class MqttGateway:
    """Adapts the company's broker to the server's services."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.settings = server.settings
        self.company = server.company
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="mqtt-op")
        # Live topics are published off the committing thread, in order, so they never delay an answer.
        self._live = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mqtt-live")
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()  # retransmitted ids, answered fast
        self._recent_lock = threading.Lock()
        self.logins = VehicleLogins.connect(server)
        port = self.settings.broker_port or server.network.company(self.company).broker_port
        self._address = (self.settings.broker_host, port)
        self._client = new_client(f"server-{self.company}", self.settings.broker_username,
                                  self.settings.broker_password)
        self._client.will_set(topics.server_status(self.company), topics.STATUS_OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.message_callback_add(topics.all_requests(self.company), self._on_vehicle_request)
        self._client.message_callback_add(topics.all_signup_requests(self.company), self._on_signup_request)
        self._vehicle_ops: dict[str, Callable[[str, dict[str, Any], str], Any]] = {
            "account": self._op_account, "add_credit": self._op_add_credit, "plan": self._op_plan,
            "book": self._op_book, "trips": self._op_trips, "reservations": self._op_reservations,
            "cancel": self._op_cancel, "check_in": self._op_check_in, "logout": self._op_logout,
            "update_vehicle": self._op_update_vehicle}

    @classmethod
    def factory(cls, server: Server) -> MqttGateway:
        """For `create_app(server, MqttGateway.factory)`."""
        return cls(server)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Keep broker logins in sync, listen for new events, connect (paho retries in the background)."""
        self.logins.start()
        self.server.engine.subscribe(self._queue_events)
        # A fixed client id and a kept session: requests published while we reconnect wait for us.
        self._client.connect_async(*self._address, keepalive=30, clean_start=False,
                                   properties=session_properties(SESSION_EXPIRY_S))
        self._client.loop_start()

    def stop(self) -> None:
        """Say offline, disconnect, stop the workers."""
        # Not connected: the last will says offline for us.
        with contextlib.suppress(RuntimeError, ValueError):
            self._client.publish(topics.server_status(self.company), topics.STATUS_OFFLINE, qos=1,
                                 retain=True).wait_for_publish(timeout=1)
        self._client.disconnect()
        self._client.loop_stop()
        self.logins.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._live.shutdown(wait=False, cancel_futures=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the server's login: %s", reason)
            return
        client.subscribe(topics.all_requests(self.company), qos=1)
        client.subscribe(topics.all_signup_requests(self.company), qos=1)
        client.publish(topics.server_status(self.company), topics.STATUS_ONLINE, qos=1, retain=True)
        self._live.submit(self.publish_all_availability)

    # -- requests -------------------------------------------------------------------------------
    def _on_vehicle_request(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            vehicle_id = topics.parse_vehicle_id(message.topic)
        except ValueError:
            return
        self._pool.submit(self._serve, message, topics.vehicle_reply(self.company, vehicle_id),
                          lambda env: self._vehicle(vehicle_id, env), vehicle_id)

    def _on_signup_request(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            client_id = topics.parse_signup_client_id(message.topic)
        except ValueError:
            return
        self._pool.submit(self._serve, message, topics.signup_reply(self.company, client_id), self._signup,
                          "signup:" + client_id)

    def _serve(self, message: mqtt.MQTTMessage, reply_topic: str,
               handle: Callable[[Envelope], Any], who: str) -> None:
        """Validate, dedupe, handle, reply — never raise (a worker must survive any payload)."""
        rid = "?"
        try:
            if len(message.payload) > MAX_PAYLOAD:
                raise BadRequest(f"payload over {MAX_PAYLOAD} bytes", code="PAYLOAD_TOO_LARGE")
            try:
                raw = json.loads(message.payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise BadRequest("payload is not UTF-8 JSON", code="BAD_JSON") from None
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                rid = raw["id"][:64]
            try:
                env = Envelope.model_validate(raw)
            except ValidationError as exc:
                raise BadRequest("request envelope is not valid", code="BAD_REQUEST",
                                 details={"errors": _errors(exc)}) from None
            key = f"{who}/{env.id}"
            with self._recent_lock:
                reply = self._recent.get(key)
            if reply is None:
                result = handle(env)
                reply = {"id": env.id, "ok": True, "result": result}
                if isinstance(result, dict) and result.get("status") == "REFUSED":
                    details = views.refusal_error(result)["details"]
                    reply = error_reply(env.id, result["code"], result["reason"], details)
                with self._recent_lock:
                    self._recent[key] = reply
                    while len(self._recent) > 4096:
                        self._recent.popitem(last=False)
        except ValidationError as exc:
            reply = error_reply(rid, "VALIDATION_ERROR", "arguments are not valid", {"errors": _errors(exc)})
        except DomainError as exc:
            reply = error_reply(rid, exc.code, exc.message, exc.details)
        except Exception:  # a bug must not kill the worker nor leave the vehicle waiting
            log.exception("request %s failed", rid)
            reply = error_reply(rid, "INTERNAL", "unexpected server error")
        self._client.publish(reply_topic, json.dumps(reply, default=str), qos=1,
                             properties=correlation_properties(message))

    def _signup(self, env: Envelope) -> Any:
        if env.op == "signup":
            return self._with_broker(self.server.accounts.signup(SignupIn.model_validate(env.args)).to_json())
        if env.op == "login":
            body = LoginIn.model_validate(env.args)
            return self._with_broker(self.server.accounts.login(body.login, body.password).to_json())
        if env.op == "fake":
            seed = env.args.get("seed")
            return fake_vehicle_form(seed if isinstance(seed, int) else None)
        raise BadRequest(f"unknown operation {env.op!r} on the sign-up channel", code="UNKNOWN_OP")

    def _with_broker(self, session: dict[str, Any]) -> dict[str, Any]:
        # The login must work before the vehicle tries it: the broker confirms it before we answer.
        self.logins.ensure(session["vehicle_id"])
        return session

    def _vehicle(self, vehicle_id: str, env: Envelope) -> Any:
        op = self._vehicle_ops.get(env.op)
        if op is None:
            raise BadRequest(f"unknown operation {env.op!r}", code="UNKNOWN_OP",
                             details={"known": sorted(self._vehicle_ops)})
        if not env.token:
            raise Unauthorized("this operation needs the session token", code="BAD_TOKEN")
        if self.server.accounts.authenticate(env.token) != vehicle_id:
            raise Unauthorized("the token is not this vehicle's", code="BAD_TOKEN")
        return op(vehicle_id, env.args, env.id)

    # -- vehicle operations (the seed's menus, and driving) ---------------------------------------
    def _op_account(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return self.server.accounts.view(vid)

    def _op_add_credit(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return self.server.accounts.add_credit(vid, CreditIn.model_validate(args).amount, rid)

    def _op_plan(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        trip_args = {k: v for k, v in args.items() if k != "alternatives"}
        k = args.get("alternatives", 1)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 5:
            raise BadRequest("alternatives must be a whole number from 1 to 5", code="VALIDATION_ERROR")
        body = TripIn.model_validate(trip_args)
        vehicle = self.server.coordinator.vehicle_of(vid, body)
        plans = self.server.coordinator.plan(body, vehicle, views.exclusions(body.avoid_stations), k=k)
        return {"plans": [p.to_json() for p in plans]}

    def _op_book(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return self.server.coordinator.book(vid, rid, TripIn.model_validate(args))

    def _op_trips(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return {"trips": self.server.coordinator.trips_of(vid)}

    def _op_reservations(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return {"reservations": self.server.coordinator.reservations_of(vid)}

    def _op_cancel(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return self.server.coordinator.cancel(vid, CancelIn.model_validate(args).trip_id)

    def _op_check_in(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        return self.server.coordinator.check_in(vid, CheckInIn.model_validate(args))

    def _op_logout(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        token = args.get("token")
        if isinstance(token, str):
            self.server.accounts.logout(token)
        return {"logged_out": True}

    def _op_update_vehicle(self, vid: str, args: dict[str, Any], rid: str) -> Any:
        changes: dict[str, Any] = {}
        if "charge_kwh" in args:
            charge = args["charge_kwh"]
            if not isinstance(charge, int | float) or isinstance(charge, bool) or not 0 <= charge <= 300:
                raise BadRequest("charge_kwh must be a number from 0 to 300", code="VALIDATION_ERROR")
            changes["charge_kwh"] = float(charge)
        if "profile" in args:
            try:
                changes["profile"] = DrivingProfile(args["profile"]).value
            except ValueError:
                raise BadRequest("profile must be economic, normal or aggressive", code="VALIDATION_ERROR") from None
        if not changes:
            raise BadRequest("nothing to update (charge_kwh, profile)", code="VALIDATION_ERROR")
        self.server.accounts.update_vehicle(vid, changes)
        return self.server.accounts.view(vid)["vehicle"]

    # -- live topics ----------------------------------------------------------------------------
    def _queue_events(self, recorded: Sequence[RecordedEvent]) -> None:
        self._live.submit(self._on_events, recorded)

    def _on_events(self, recorded: Sequence[RecordedEvent]) -> None:
        stations: set[str] = set()
        for event in recorded:
            self._client.publish(topics.booking_feed(self.company), json.dumps(views.event_json(event)), qos=0)
            if event.type in _AVAILABILITY:
                stations.update(_stations_of(event, self.server))
        for station_id in stations:
            self.publish_availability(station_id)

    def publish_availability(self, station_id: str) -> None:
        """Publish (retained) one station's points and bookings of the next six hours."""
        now = self.server.engine.clock()
        data = self.server.participant.availability(station_id, now, now + timedelta(hours=6))
        self._client.publish(topics.station_availability(self.company, station_id), json.dumps(data), qos=1,
                             retain=True)

    def publish_all_availability(self) -> None:
        """Publish every station's availability (on connect)."""
        for station in self.server.network.stations_of(self.company):
            self.publish_availability(station.id)


def _stations_of(event: RecordedEvent, server: Server) -> set[str]:
    if event.type == T.HOLDS_PLACED:
        return {h["station_id"] for h in event.data["holds"]}
    if event.type == T.POINT_STATUS_CHANGED:
        return {server.network.point_owner(event.data["point_id"]).id}
    # A hold event: its stations are in the stream's first event (the state may have forgotten the trip).
    first = server.engine.first(event.stream_id)
    return {h["station_id"] for h in first.data["holds"]} if first is not None and first.type == T.HOLDS_PLACED \
        else set()


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
