"""Nothing the server publishes may pass the broker's packet limit: the broker would drop its connection."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import orjson
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from servers.adapters.live import LiveTopics
from servers.adapters.packets import OVERHEAD, PacketBudget, split_array


def test_the_budget_is_the_brokers_maximum_packet_size_from_the_connack():
    props = Properties(PacketTypes.CONNACK)
    props.MaximumPacketSize = 65536
    budget = PacketBudget()
    budget.learn(props)
    assert budget.max_packet_size == 65536
    assert budget.room("a/b") == 65536 - OVERHEAD - 3
    assert budget.fits("a/b", b"x" * (65536 - OVERHEAD - 3))
    assert not budget.fits("a/b", b"x" * (65536 - OVERHEAD - 2))
    budget.learn(Properties(PacketTypes.CONNACK))  # a broker that announces no limit
    assert budget.room("a/b") is None and budget.fits("a/b", b"x" * 10**6)
    budget.learn(None)  # MQTT 3: no properties at all
    assert budget.max_packet_size is None


def test_an_array_is_split_in_order_into_payloads_that_fit():
    items = [orjson.dumps({"seq": i, "data": "x" * (i % 50)}) for i in range(500)]
    chunks = list(split_array(b"events", items, 2000))
    assert len(chunks) > 1
    assert all(len(payload) <= 2000 and skipped == 0 for payload, skipped in chunks)
    seqs = [e["seq"] for payload, _ in chunks for e in json.loads(payload)["events"]]
    assert seqs == list(range(500))


def test_an_item_too_large_alone_is_left_out_and_counted_never_sent():
    items = [b'{"a":1}', b'"' + b"x" * 5000 + b'"', b'{"b":2}']
    chunks = list(split_array(b"events", items, 1000))
    assert [json.loads(p)["events"] for p, _ in chunks] == [[{"a": 1}, {"b": 2}]]
    assert sum(skipped for _, skipped in chunks) == 1
    assert list(split_array(b"events", [b"x" * 5000], 1000)) == [(b'{"events":[]}', 1)]
    assert list(split_array(b"events", items, None)) == [(b'{"events":[' + b",".join(items) + b"]}", 0)]


class _Client:
    """A paho client stand-in that keeps what is published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, **kwargs: Any) -> None:
        self.sent.append((topic, payload))


def test_a_storms_feed_goes_out_in_messages_under_the_limit_with_every_event():
    """Under a storm one beat's feed passed 64 KiB and the broker cut the server off (every reply then waited)."""
    server = SimpleNamespace(company="voltpoint", points=SimpleNamespace(tick=lambda now: None, take_changed=list),
                             engine=SimpleNamespace(clock=lambda: None))
    client, budget = _Client(), PacketBudget(65536)
    live = LiveTopics(server, client, budget)  # type: ignore[arg-type]
    live._feed = [{"seq": i, "type": "TripRequested", "data": {"plan": "p" * 900}} for i in range(300)]
    live.flush()
    feed = [(t, p) for t, p in client.sent if t.endswith("/feed")]
    assert len(feed) > 1
    assert all(budget.fits(t, p) for t, p in feed)
    assert [e["seq"] for _, p in feed for e in json.loads(p)["events"]] == list(range(300))
