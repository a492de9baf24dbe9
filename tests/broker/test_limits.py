"""The broker refuses payloads above max_packet_size: they never reach a subscriber."""

from __future__ import annotations

from typing import Any

from contract import topics
from mosquitto import MAX_PACKET_SIZE
from tests.broker.broker_helpers import WAIT, Broker


def test_an_oversized_payload_is_not_delivered(broker: Broker, probe: Any) -> None:
    c = broker.company
    server = probe("server")
    server.subscribe(topics.all_requests(c))
    # MQTT 3.1.1: paho then knows no size limit and really sends it, so the broker must refuse it.
    big = probe("veh-a", v5=False)
    big.client.publish(topics.vehicle_request(c, "veh-a"), b"x" * (MAX_PACKET_SIZE + 1), qos=1)
    assert big.disconnected.wait(WAIT)  # the broker drops a client that breaks the limit

    small = probe("veh-a")
    small.publish(topics.vehicle_request(c, "veh-a"), b"small")
    assert server.until(topics.vehicle_request(c, "veh-a"), b"small") == []
