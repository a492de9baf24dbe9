"""Helpers of the broker tests: the Broker record, a raw paho Probe, and an echo EchoResponder."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contract import topics
from contract.mqtt import correlation_properties, new_client
from mosquitto import BrokerProcess, PasswordFile
from mosquitto.logins import DynsecLogins

WAIT = 10.0  # bound on every wait: a hung broker fails the test instead of hanging it


@dataclass
class Broker:
    """A running broker with its accounts (username -> password) for one test; `logins` in dynsec mode."""

    process: BrokerProcess
    company: str
    passwords: PasswordFile
    users: dict[str, str]
    logins: DynsecLogins | None = None

    def add_login(self, username: str, password: str) -> None:
        """Add a vehicle's login as the server would: in the plugin, or in the file then SIGHUP."""
        self.users[username] = password
        if self.logins is not None:
            self.logins.add({username: password})
        else:
            self.passwords.set(username, password)
            self.process.reload()

    @property
    def port(self) -> int:
        return self.process.port


class Probe:
    """A raw paho client that records what it receives, for poking at the broker."""

    def __init__(self, port: int, username: str | None, password: str | None, *, v5: bool = True) -> None:
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:10]}", protocol=protocol
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.port = port
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connack: queue.Queue[Any] = queue.Queue()
        self.subacks: queue.Queue[Any] = queue.Queue()
        self.disconnected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()

    def connect(self) -> bool:
        """Connect once (no retries) and return whether the broker accepted the login."""
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        try:
            rc = self.connack.get(timeout=WAIT)
        except queue.Empty:
            rc = None
        accepted = rc is not None and not rc.is_failure
        if not accepted:
            self.close()
        return accepted

    def subscribe(self, topic_filter: str) -> None:
        self.client.subscribe(topic_filter, qos=1)
        self.subacks.get(timeout=WAIT)

    def publish(self, topic: str, payload: bytes | str, **kw: Any) -> None:
        info = self.client.publish(topic, payload, qos=1, **kw)
        info.wait_for_publish(WAIT)

    def until(self, topic: str, payload: bytes) -> list[tuple[str, bytes]]:
        """Wait for (topic, payload) and return everything received before it."""
        seen: list[tuple[str, bytes]] = []
        while True:
            msg = self.messages.get(timeout=WAIT)
            if msg == (topic, payload):
                return seen
            seen.append(msg)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class EchoResponder:
    """A stand-in server on the service account: answers each request id once, echoing its args.

    `answering` cleared: requests are recorded (executed) but not answered, as
    if the reply were lost; `held` is set when such a request arrives.
    """

    broker: Broker
    executions: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)
    answering: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    subscribed: threading.Event = field(default_factory=threading.Event)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    held_messages: list[tuple[str, str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.answering.set()
        self.client = new_client(f"responder-{uuid.uuid4().hex[:8]}", "server", self.broker.users["server"])
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> EchoResponder:
        self.client.connect_async("127.0.0.1", self.broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT)
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.subscribed.clear()
        c = self.broker.company
        client.subscribe([(topics.all_requests(c), 1), (topics.all_signup_requests(c), 1)])

    def _answer(self, body: dict[str, Any], topic: str) -> dict[str, Any]:
        op, args = body.get("op"), body.get("args", {})
        if op == "fail":
            return {"id": body["id"], "ok": False, "error": {"code": "NOPE", "message": "refused on purpose"}}
        if op == "signup":
            # As the real server does: create the vehicle's broker login before answering.
            vehicle_id = f"v-{uuid.uuid4().hex[:10]}"
            password = uuid.uuid4().hex
            self.broker.add_login(vehicle_id, password)
            result = {"vehicle_id": vehicle_id, "username": vehicle_id, "password": password, "form": args}
            return {"id": body["id"], "ok": True, "result": result}
        vehicle = topics.parse_vehicle_id(topic)
        result = {"op": op, "args": args, "token": body.get("token"), "vehicle": vehicle}
        return {"id": body["id"], "ok": True, "result": result}

    def release(self) -> None:
        """Answer from now on, and send the replies held so far."""
        self.answering.set()
        for topic, rid, props in self.held_messages:
            self.client.publish(topic, json.dumps(self.replies[rid]), qos=1, properties=props)
        self.held_messages.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        rid = body["id"]
        self.deliveries[rid] += 1
        if rid not in self.replies:  # a repeated id gets the first answer, never a second execution
            self.executions[rid] += 1
            self.replies[rid] = self._answer(body, msg.topic)
        c = self.broker.company
        if "/signup/" in msg.topic:
            reply_topic = topics.signup_reply(c, topics.parse_signup_client_id(msg.topic))
        else:
            reply_topic = topics.vehicle_reply(c, topics.parse_vehicle_id(msg.topic))
        props = correlation_properties(msg)
        if not self.answering.is_set():
            self.held_messages.append((reply_topic, rid, props))
            self.held.set()
            return
        client.publish(reply_topic, json.dumps(self.replies[rid]), qos=1, properties=props)
