"""The vehicle's MQTT client: request/reply to its home company's server over its broker.

    with VehicleClient("127.0.0.1", 1883, "voltpoint", "v-42", "v-42", "pw") as car:
        trip = car.request("book", origin="salvador", destination="recife")

A request is a QoS 1 PUBLISH of `{"id", "op", "args"[, "token"]}` to the
vehicle's own request topic, with MQTT v5 Response Topic and Correlation Data
(the request id). The reply arrives on the vehicle's own reply topic as
`{"id", "ok": true, "result": {...}}` or `{"id", "ok": false, "error": {"code", "message"}}`.

Delivery: the reply subscription is QoS 1 in a session that outlives a
dropped connection (clean start only on the first connect, session expiry
set), so a reply published while the client was reconnecting is kept for it.
A broker that crashed loses that session: on every reconnect the client
subscribes again and re-publishes each request still waiting, with the SAME
id; the server answers a repeated id with its first answer and never acts
twice. paho's callbacks run on its network thread; waiting callers get their
reply through a per-request Event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from contract import topics
from contract.mqtt import new_client, new_properties, request_properties, session_properties

from .errors import ClientError, ConnectFailed, ReplyError, RequestTimeout

log = logging.getLogger(__name__)

#: Seconds the broker keeps a dropped client's session (subscription + queued replies).
SESSION_EXPIRY_S = 300

MessageHandler = Callable[[str, bytes], None]


@dataclass
class _Pending:
    """One request waiting for its reply."""

    op: str
    payload: bytes
    properties: Properties
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None
    info: mqtt.MQTTMessageInfo | None = None
    sent_at: float = 0.0


class RpcClient:
    """Request/reply over one pair of topics (the base of VehicleClient and SignupClient)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        request_topic: str,
        reply_topic: str,
        username: str,
        password: str,
        client_id: str,
        keepalive: int = 30,
        session_expiry: int = SESSION_EXPIRY_S,
        resend_interval: float | None = None,
    ) -> None:
        """Describe the connection; nothing happens on the network until `connect()`.

        `resend_interval`: re-publish a request still unanswered after that many
        seconds (same id). Off by default: re-publishing on reconnect covers a
        broker crash; turn it on when the server may also have lost its subscription.
        """
        self.host = host
        self.port = port
        self.request_topic = request_topic
        self.reply_topic = reply_topic
        self.client_id = client_id
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        self.resend_interval = resend_interval
        #: The session token of a logged-in account; sent with every request when set.
        self.token: str | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        #: What the server told without being asked (a failed charger: `op: "notice"`), newest last.
        self.notices: deque[dict[str, Any]] = deque(maxlen=100)
        self._handlers: dict[str, MessageHandler] = {}
        self._ready = threading.Event()
        self._connected = False
        self._connect_error: str | None = None
        self._sub_mid: int | None = None
        self._closed = False
        self._mqtt = new_client(client_id, username, password)
        self._mqtt.on_connect = self._on_connect
        self._mqtt.on_disconnect = self._on_disconnect
        self._mqtt.on_subscribe = self._on_subscribe
        self._mqtt.on_publish = self._on_publish
        # mids the broker acknowledged (PUBACK); guarded by its own lock, never held while calling
        # paho, because paho runs on_publish while holding its own outgoing-message lock.
        self._acked: set[int] = set()
        self._acked_lock = threading.Lock()
        self._mqtt.message_callback_add(reply_topic, self._on_reply)
        self._mqtt.on_message = self._on_other_message

    # ------------------------------------------------------------------ lifecycle

    @property
    def mqtt_client(self) -> mqtt.Client:
        """The underlying paho client (for inspection; do not change its callbacks)."""
        return self._mqtt

    @property
    def is_connected(self) -> bool:
        """Whether the client is connected and subscribed to its reply topic right now."""
        return self._connected

    def connect(self, timeout: float = 5.0) -> None:
        """Connect, log in and subscribe to the reply topic; ConnectFailed after `timeout` seconds."""
        if self._closed:
            raise ClientError("client is closed")
        self._mqtt.connect_async(
            self.host,
            self.port,
            keepalive=self.keepalive,
            clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=session_properties(self.session_expiry),
        )
        self._mqtt.loop_start()
        if not self._ready.wait(timeout) or self._connect_error is not None:
            reason = self._connect_error or f"no answer from {self.host}:{self.port} within {timeout:g} s"
            self._shutdown()
            raise ConnectFailed(reason)

    def close(self) -> None:
        """Disconnect and end the session at the broker (nothing more is kept for this client id)."""
        if self._closed:
            return
        self._closed = True
        if self._connected:
            props = new_properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            self._mqtt.disconnect(properties=props)
            self._mqtt.loop_stop()
        else:
            self._shutdown()
        with self._lock:
            for pending in self._pending.values():
                pending.done.set()

    def _shutdown(self) -> None:
        # disconnect() first: it also ends paho's reconnect attempts (a refused
        # login would otherwise retry forever); then the network thread stops.
        self._mqtt.disconnect()
        self._mqtt.loop_stop()

    def __enter__(self) -> RpcClient:
        """Connect (if not yet) and return the client."""
        if not self._ready.is_set():
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()

    # ------------------------------------------------------------------ requests

    def request_raw(
        self,
        op: str,
        timeout: float = 5.0,
        *,
        request_id: str | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Send `op(**args)` and return the whole reply dict; RequestTimeout after `timeout` seconds.

        Pass the `request_id` of a request that timed out to ask again: the
        server answers a repeated id with its first answer.
        """
        if self._closed:
            raise ClientError("client is closed")
        rid = request_id or uuid.uuid4().hex
        body: dict[str, Any] = {"id": rid, "op": op, "args": args}
        if self.token is not None:
            body["token"] = self.token
        pending = _Pending(
            op=op,
            payload=json.dumps(body, separators=(",", ":"), default=str).encode(),
            properties=request_properties(self.reply_topic, rid.encode()),
        )
        with self._lock:
            if rid in self._pending:
                raise ClientError(f"request {rid} is already waiting for its reply")
            self._pending[rid] = pending
        try:
            self._publish(pending)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout(rid, op, timeout)
                step = left if self.resend_interval is None else min(left, self.resend_interval)
                if pending.done.wait(step):
                    break
                if self.resend_interval is not None and time.monotonic() < deadline:
                    self._publish(pending)
            if pending.reply is None:
                raise ClientError("client closed while waiting for a reply")
            return pending.reply
        finally:
            with self._lock:
                self._pending.pop(rid, None)
            self._forget_ack(pending)

    def request(self, op: str, timeout: float = 5.0, *, request_id: str | None = None, **args: Any) -> Any:
        """Send `op(**args)` and return the reply's `result`; ReplyError on an error reply."""
        reply = self.request_raw(op, timeout, request_id=request_id, **args)
        if reply.get("ok") is True:
            return reply.get("result", {})
        error = reply.get("error")
        if not isinstance(error, dict):
            error = {}
        details = error.get("details")
        raise ReplyError(
            str(error.get("code", "UNKNOWN")),
            str(error.get("message", "the server refused the request")),
            details if isinstance(details, dict) else None,
        )

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Call `handler(topic, payload)` on paho's thread for each message matching `topic_filter`.

        For dashboards and cars that watch retained availability or status
        topics; the subscription is renewed after every reconnect.
        """
        with self._lock:
            self._handlers[topic_filter] = handler
        self._mqtt.message_callback_add(topic_filter, self._dispatch(handler))
        if self._connected:
            self._mqtt.subscribe(topic_filter, qos=1)

    def _dispatch(self, handler: MessageHandler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def callback(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            try:
                handler(message.topic, bytes(message.payload))
            except Exception:  # a faulty handler must not kill paho's network thread
                log.exception("handler for %s failed", message.topic)

        return callback

    def _publish(self, pending: _Pending) -> None:
        self._forget_ack(pending)
        pending.sent_at = time.monotonic()
        # While disconnected paho queues a QoS 1 message and sends it after the reconnect.
        pending.info = self._mqtt.publish(
            self.request_topic, pending.payload, qos=1, properties=pending.properties
        )

    def _forget_ack(self, pending: _Pending) -> None:
        if pending.info is not None:
            with self._acked_lock:
                self._acked.discard(pending.info.mid)

    def _was_acked(self, pending: _Pending) -> bool:
        if pending.info is None:
            return False
        with self._acked_lock:
            return pending.info.mid in self._acked

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            if not self._ready.is_set():
                self._connect_error = f"broker refused the connection: {reason_code}"
                self._ready.set()
            else:
                log.warning("reconnect refused by the broker: %s", reason_code)
            return
        topics_qos = [(self.reply_topic, 1)]
        with self._lock:
            topics_qos += [(t, 1) for t in self._handlers]
            waiting = list(self._pending.values())
        _, self._sub_mid = client.subscribe(topics_qos)
        if flags.session_present:
            return  # the broker kept our session: queued replies and unacked requests flow again
        for pending in waiting:
            # paho itself re-sends what the broker never acknowledged; what it did
            # acknowledge may have died with the broker, so publish it again (same id).
            # (MQTTMessageInfo.is_published() raises for a message queued while offline: track PUBACKs.)
            if self._was_acked(pending) and not pending.done.is_set():
                self._publish(pending)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._acked_lock:
            self._acked.add(mid)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._sub_mid:
            return
        if reason_codes and reason_codes[0].is_failure:
            self._connect_error = f"broker refused the reply subscription: {reason_codes[0]}"
        else:
            self._connected = True
        self._ready.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected = False
        if not self._closed:
            log.info("disconnected from %s:%s (%s); paho reconnects", self.host, self.port, reason_code)

    def _on_reply(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            reply = json.loads(message.payload)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and reply.get("op") == "notice" and reply.get("id") is None:
            self.notices.append(reply.get("result") or {})
            return
        correlation = getattr(message.properties, "CorrelationData", None) if message.properties else None
        if isinstance(correlation, bytes | bytearray):
            rid: object = bytes(correlation).decode("utf-8", "replace")
        else:
            rid = reply.get("id") if isinstance(reply, dict) else None
        if not isinstance(rid, str):
            log.warning("reply without a request id on %s: dropped", message.topic)
            return
        with self._lock:
            pending = self._pending.get(rid)
        if pending is None or pending.done.is_set():
            return  # a duplicate answer to a re-published request, or to one that timed out
        if not isinstance(reply, dict):
            reply = {"id": rid, "ok": False, "error": {"code": "BAD_REPLY", "message": "reply is not JSON"}}
        pending.reply = reply
        pending.done.set()

    def _on_other_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        log.debug("unexpected message on %s", message.topic)


class VehicleClient(RpcClient):
    """A vehicle (or the booking page acting for one) talking to its home company's server."""

    def __init__(
        self,
        host: str,
        port: int,
        company: str,
        vehicle_id: str,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
        keepalive: int = 30,
        resend_interval: float | None = None,
    ) -> None:
        """Describe the connection; `username` is the vehicle's broker login (normally its id)."""
        self.company = company
        self.vehicle_id = vehicle_id
        super().__init__(
            host,
            port,
            request_topic=topics.vehicle_request(company, vehicle_id),
            reply_topic=topics.vehicle_reply(company, vehicle_id),
            username=username,
            password=password,
            # A fresh suffix per instance: two processes of one vehicle must not
            # take over each other's connection and session.
            client_id=client_id or f"{vehicle_id}-{uuid.uuid4().hex[:12]}",
            keepalive=keepalive,
            resend_interval=resend_interval,
        )

    def __enter__(self) -> VehicleClient:
        """Connect (if not yet) and return the client."""
        super().__enter__()
        return self


class SignupClient(RpcClient):
    """A vehicle with no account yet, on the shared low-privilege sign-up login.

    Its client id is random and unguessable: the ACL binds the sign-up topics
    to the client id (`%c`), so no one else can read the reply that carries
    the new credentials.
    """

    def __init__(
        self,
        host: str,
        port: int,
        company: str,
        username: str,
        password: str,
        *,
        client_id: str | None = None,
    ) -> None:
        """Describe the connection with the company's shared sign-up login."""
        self.company = company
        cid = client_id or f"signup-{uuid.uuid4().hex}"
        super().__init__(
            host,
            port,
            request_topic=topics.signup_request(company, cid),
            reply_topic=topics.signup_reply(company, cid),
            username=username,
            password=password,
            client_id=cid,
        )

    def __enter__(self) -> SignupClient:
        """Connect (if not yet) and return the client."""
        super().__enter__()
        return self


def signup(
    host: str,
    port: int,
    company: str,
    form: dict[str, Any],
    *,
    username: str = "signup",
    password: str = "signup",
    timeout: float = 10.0,
    op: str = "signup",
) -> Any:
    """Open an account over MQTT and return the reply's result (it carries the new broker login).

    Raises ReplyError when the server refuses the form, RequestTimeout,
    ConnectFailed.
    """
    with SignupClient(host, port, company, username, password) as client:
        return client.request(op, timeout, **form)
