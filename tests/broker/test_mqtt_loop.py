"""LoopMqtt: a paho client on the asyncio loop takes a burst of messages in one turn of the loop."""

from __future__ import annotations

import asyncio

from contract import topics
from contract.mqtt import new_client
from contract.mqtt_loop import LoopMqtt
from tests.broker.broker_helpers import WAIT, Broker


def test_a_burst_of_requests_is_read_in_one_turn_not_one_packet_per_turn(broker: Broker) -> None:
    """paho's loop_read takes one packet per call when nothing is in flight: a server that called it once per
    readiness saw the last of 300 simultaneous requests only after hundreds of turns of its busy loop."""
    topic = topics.vehicle_request(broker.company, "veh-a")

    async def run() -> list[int]:
        seen: list[str] = []
        turns: list[int] = []  # messages handled by each readiness of the socket
        server = new_client("server-test", "server", broker.users["server"])
        server.on_message = lambda client, userdata, message: seen.append(message.payload.decode())
        loop_mqtt = LoopMqtt(server)
        read = loop_mqtt._read

        def counting_read() -> None:
            before = len(seen)
            read()
            turns.append(len(seen) - before)

        loop_mqtt._read = counting_read  # type: ignore[method-assign]
        await loop_mqtt.connect("127.0.0.1", broker.port, timeout=WAIT)
        server.subscribe(topics.all_requests(broker.company), qos=1)
        await asyncio.sleep(0.3)
        sender = new_client("veh-a-burst", "veh-a", broker.users["veh-a"])
        sender.connect("127.0.0.1", broker.port)
        sender.loop_start()
        try:
            for i in range(100):
                sender.publish(topic, str(i).encode(), qos=1)
            for _ in range(100):  # the broker forwards them; the loop stays idle meanwhile (no busy tasks here)
                if len(seen) >= 100:
                    break
                await asyncio.sleep(0.05)
        finally:
            sender.loop_stop()
            sender.disconnect()
            await loop_mqtt.disconnect()
        assert seen == [str(i) for i in range(100)]
        return turns

    turns = asyncio.run(run())
    assert max(turns) > 1, f"one packet per readiness: {turns[:20]}"
