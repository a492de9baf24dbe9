"""What fits in one MQTT packet: the broker's Maximum Packet Size, learned at connect, and a feed split to fit.

A broker drops the connection of a client that sends a packet over its limit
(Mosquitto: "disconnected due to oversize packet"). For a server that is the
connection every vehicle's reply goes out on: under a storm, one beat's feed
of booking events passed 64 KiB, the broker cut the server off, and every
reply waited in paho's queue for the reconnect a second later (measured:
300 vehicles at once, p50 750 ms, answers arriving in bursts per broker).
So nothing is published without knowing it fits: the feed is split, and an
answer too large for the broker becomes an error the vehicle can act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Bytes of a PUBLISH besides its topic and payload, with room: fixed header (≤ 5), topic length (2), packet id
# (2), properties (correlation data ≤ 64 bytes, a content type) — generously rounded up.
OVERHEAD = 512


class PacketBudget:
    """The broker's Maximum Packet Size (MQTT 5 CONNACK property; None: the broker announced no limit)."""

    def __init__(self, max_packet_size: int | None = None) -> None:
        self.max_packet_size = max_packet_size

    def learn(self, connack_properties: Any) -> None:
        """Take the limit from the CONNACK's properties (paho's `Properties`, or None from an MQTT 3 broker)."""
        size = getattr(connack_properties, "MaximumPacketSize", None)
        self.max_packet_size = int(size) if size else None

    def room(self, topic: str) -> int | None:
        """The largest payload that fits on `topic`; None when there is no limit."""
        if self.max_packet_size is None:
            return None
        return max(self.max_packet_size - OVERHEAD - len(topic.encode()), 0)

    def fits(self, topic: str, payload: bytes) -> bool:
        """Whether `payload` can be published on `topic` without the broker dropping the connection."""
        room = self.room(topic)
        return room is None or len(payload) <= room


def split_array(key: bytes, items: list[bytes], room: int | None) -> Iterator[tuple[bytes, int]]:
    """`{"<key>": [...]}` payloads of the already-encoded `items`, each within `room` bytes, in order.

    Yields (payload, items left out); an item larger than `room` on its own cannot be sent and is left out
    (counted on the next payload yielded, or on a last empty one), never sent to break the connection.
    """
    head, tail = b'{"' + key + b'":[', b"]}"
    chunk: list[bytes] = []
    size, skipped = len(head) + len(tail), 0
    for item in items:
        if room is not None and len(head) + len(tail) + len(item) > room:
            skipped += 1
            continue
        if chunk and room is not None and size + 1 + len(item) > room:
            yield head + b",".join(chunk) + tail, skipped
            chunk, size, skipped = [], len(head) + len(tail), 0
        size += len(item) + (1 if chunk else 0)
        chunk.append(item)
    if chunk or skipped:
        yield head + b",".join(chunk) + tail, skipped
