"""Mosquitto 2's dynamic-security plugin: a client that sends it commands in batches.

The plugin keeps clients (username, password, roles) and roles (ACLs) in a
JSON file of its own and changes them at run time on commands published to
`$CONTROL/dynamic-security/v1`; it answers every message on
`…/v1/response` with one response per command, in order, each echoing the
command's `correlationData`. No password file, no SIGHUP, and the admin may
be on another host than the broker.

`DynsecClient` sends commands in batches: while one message is in flight,
later commands wait and then leave together in the next message, so a burst
of N sign-ups costs a few messages, not N round trips. (The plugin still
rewrites its JSON file once per changing command, inside the broker.)
The plugin's broker config and first JSON file: `mosquitto.config`.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from contract.mqtt import new_client

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
# Below the broker's max_packet_size (64 KiB), which would drop the admin's connection.
MAX_BATCH_BYTES = 48 * 1024

Command = dict[str, Any]
Response = dict[str, Any]


class DynsecUnavailable(RuntimeError):
    """The broker did not answer the commands in time (not connected, or down)."""


class DynsecRefused(RuntimeError):
    """The plugin answered a command with an error that the caller cannot treat as done."""


def _encoded_size(command: Command) -> int:
    """Bytes of one command in a message, with room for the correlation id it gets."""
    return len(json.dumps(command, separators=(",", ":"))) + 48


@dataclass
class _Group:
    """Commands submitted together: they stay in one message and resolve one future."""

    commands: list[Command]
    future: Future[list[Response]]
    size: int = 0  # bytes of the encoded commands, plus room for their correlation ids


@dataclass
class _Batch:
    """One message in flight: its correlation ids, in command order, and the groups they belong to."""

    payload: str
    ids: list[str]
    groups: list[_Group]


class DynsecClient:
    """An admin connection to one broker's dynamic-security plugin, sending commands in batches.

    `submit(commands)` returns a future of the plugin's responses to those
    commands (in order). At most one message is in flight; what is submitted
    meanwhile goes out together when its answer arrives. After a reconnect the
    message in flight is sent again, so commands must be safe to repeat (the
    plugin answers "already exists" and the like: see `mosquitto.logins`).
    `on_ready` is called on paho's thread after every (re)connect, once the
    response topic is subscribed: hand any work over to another thread.
    """

    def __init__(self, host: str, port: int, username: str, password: str, *, client_id: str | None = None,
                 max_batch_bytes: int = MAX_BATCH_BYTES) -> None:
        self.address = (host, port)
        self.max_batch_bytes = max_batch_bytes
        self.on_ready: Callable[[], None] | None = None
        self.messages_sent = 0  # for tests and benchmarks: how many messages carried the commands
        self._prefix = uuid.uuid4().hex[:12]  # the response topic is shared by every admin: ours start with it
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: list[_Group] = []
        self._in_flight: _Batch | None = None
        self._ready = False
        self._client = new_client(client_id or f"dynsec-{self._prefix}", username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.message_callback_add(RESPONSE_TOPIC, self._on_response)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> DynsecClient:
        """Connect in the background (paho retries until the broker is there)."""
        self._client.connect_async(*self.address, keepalive=30)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect; whatever still waits fails with DynsecUnavailable."""
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            groups = self._pending + (self._in_flight.groups if self._in_flight else [])
            self._pending, self._in_flight, self._ready = [], None, False
        for group in groups:
            if not group.future.done():
                group.future.set_exception(DynsecUnavailable("the dynsec client was stopped"))

    @property
    def ready(self) -> bool:
        """Connected and listening for responses."""
        return self._ready

    # -- commands -------------------------------------------------------------------------------
    def submit(self, commands: Sequence[Command]) -> Future[list[Response]]:
        """Queue `commands` (sent in one message, in order); the future gets their responses."""
        group = _Group([dict(c) for c in commands], Future())
        if not group.commands:
            group.future.set_result([])
            return group.future
        group.size = sum(_encoded_size(c) for c in group.commands)
        with self._lock:
            self._pending.append(group)
        self._flush()
        return group.future

    def call(self, commands: Sequence[Command], timeout: float = 10.0) -> list[Response]:
        """`submit` and wait; DynsecUnavailable when there is no answer within `timeout` seconds.

        Commands that would not fit one message (a full sync of a few hundred logins) are submitted as
        several groups, in order; the responses come back in the order of `commands`.
        """
        futures = [self.submit(chunk) for chunk in self._chunks(commands)]
        deadline = time.monotonic() + timeout
        responses: list[Response] = []
        try:
            for future in futures:
                responses += future.result(max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise DynsecUnavailable(f"no answer from the broker's dynsec plugin at {self.address[0]}:"
                                    f"{self.address[1]} within {timeout:g} s") from None
        return responses

    def _chunks(self, commands: Sequence[Command]) -> list[list[Command]]:
        chunks: list[list[Command]] = [[]]
        size = 0
        for command in commands:
            length = _encoded_size(command)
            if chunks[-1] and size + length > self.max_batch_bytes:
                chunks.append([])
                size = 0
            chunks[-1].append(command)
            size += length
        return chunks

    def _flush(self) -> None:
        """Send the next batch if the line is free; publish outside our lock (paho takes its own)."""
        with self._lock:
            if not self._ready or self._in_flight is not None or not self._pending:
                return
            groups: list[_Group] = []
            size = 0
            while self._pending:
                group = self._pending[0]
                if groups and size + group.size > self.max_batch_bytes:
                    break
                groups.append(self._pending.pop(0))
                size += group.size
            batch = self._encode(groups)
            self._in_flight = batch
        self._publish(batch)

    def _encode(self, groups: list[_Group]) -> _Batch:
        number = next(self._seq)
        ids: list[str] = []
        commands = []
        for group in groups:
            for command in group.commands:
                ids.append(f"{self._prefix}:{number}:{len(ids)}")
                commands.append({**command, "correlationData": ids[-1]})
        return _Batch(json.dumps({"commands": commands}, separators=(",", ":")), ids, groups)

    def _publish(self, batch: _Batch) -> None:
        self.messages_sent += 1
        self._client.publish(CONTROL_TOPIC, batch.payload, qos=1)

    # -- paho callbacks (paho's thread) -----------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("the broker refused the dynsec admin login: %s", reason)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("the broker refused the dynsec response topic: %s", reasons)
            return
        with self._lock:
            self._ready = True
            resend = self._in_flight
        if resend is not None:  # its message or its answer was lost with the old connection
            self._publish(resend)
        else:
            self._flush()
        if self.on_ready is not None:
            self.on_ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._lock:
            self._ready = False

    def _on_response(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
            first = responses[0].get("correlationData", "") if responses else ""
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("unreadable dynsec response: %r", message.payload[:200])
            return
        with self._lock:
            batch = self._in_flight
            if batch is None or not isinstance(first, str) or not first.startswith(self._prefix + ":"):
                return  # another admin's answer, or a repeat of one we already have
            if first not in batch.ids:
                return
            self._in_flight = None
        self._resolve(batch, responses)
        self._flush()

    @staticmethod
    def _resolve(batch: _Batch, responses: list[Response]) -> None:
        by_id = {r.get("correlationData"): r for r in responses if isinstance(r, dict)}
        position = 0
        for group in batch.groups:
            ids = batch.ids[position:position + len(group.commands)]
            position += len(group.commands)
            answers = [by_id.get(cid) for cid in ids]
            if any(a is None for a in answers):
                group.future.set_exception(DynsecRefused(f"the plugin did not answer every command: {responses}"))
            else:
                group.future.set_result([a for a in answers if a is not None])
