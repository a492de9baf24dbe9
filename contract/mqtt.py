"""MQTT socket helpers shared by the server's gateway and the clients (paho-mqtt 2.x).

Request/reply over MQTT is latency-bound: with Nagle's algorithm on both the
broker and the client sockets a loopback round trip costs ~88 ms (Nagle waits
for the delayed ACK of the previous small packet); with TCP_NODELAY on both
it is ~0.4 ms. Mosquitto gets `set_tcp_nodelay true`; every paho client gets
`on_socket_open = nodelay_on_socket_open`.
"""

from __future__ import annotations

import socket
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def set_tcp_nodelay(sock: Any) -> bool:
    """Turn Nagle's algorithm off on `sock`; return False when it is not a TCP socket."""
    # paho hands over the real socket.socket for TCP (and an ssl.SSLSocket, a
    # subclass, for TLS); websockets get a wrapper and unix sockets have no Nagle.
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True
    return False


def nodelay_on_socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """paho `on_socket_open` callback: TCP_NODELAY on every (re)connected socket."""
    set_tcp_nodelay(sock)


def new_client(
    client_id: str,
    username: str | None = None,
    password: str | None = None,
    *,
    max_reconnect_delay: int = 2,
) -> mqtt.Client:
    """Return a paho MQTT v5 client with TCP_NODELAY, credentials and a short reconnect back-off.

    Not connected yet: set the callbacks (and `will_set` for a status topic),
    then `connect_async(...)` and `loop_start()`.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_socket_open = nodelay_on_socket_open
    # paho doubles the wait from min_delay after each failed attempt; 1 s is its
    # smallest whole-second value (the annotation says int).
    client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay)
    return client


_TEMPLATE: Properties | None = None


def new_properties(packet_type: int) -> Properties:
    """Return empty MQTT v5 properties for `packet_type` (a `PacketTypes` value).

    paho's constructor rebuilds its tables of property names and types for every object (~30 µs); a
    server makes one per reply, so these share one read-only copy of those tables instead.
    """
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves __init__ untyped
    props = Properties.__new__(Properties)
    props.__dict__.update(types=_TEMPLATE.types, names=_TEMPLATE.names, properties=_TEMPLATE.properties,
                          packetType=packet_type)
    return props


def session_properties(expiry_s: int) -> Properties:
    """Return CONNECT properties asking the broker to keep the session `expiry_s` seconds after a drop."""
    props = new_properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


def request_properties(response_topic: str, correlation: bytes) -> Properties:
    """Return PUBLISH properties of a request: MQTT v5 Response Topic and Correlation Data."""
    props = new_properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation
    return props


def correlation_properties(message: mqtt.MQTTMessage) -> Properties:
    """Return PUBLISH properties for the reply to `message`, echoing its Correlation Data.

    Publish the reply to the topic derived from the request topic
    (`topics.vehicle_reply(company, topics.parse_vehicle_id(message.topic))`),
    not to the request's Response Topic: the ACL bound the request topic to
    the sender's username, while the Response Topic is whatever it wrote.
    """
    out = new_properties(PacketTypes.PUBLISH)
    correlation = getattr(message.properties, "CorrelationData", None) if message.properties else None
    if correlation is not None:
        out.CorrelationData = correlation
    return out
