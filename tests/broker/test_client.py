"""VehicleClient: request/reply through a real broker, retries by id, reconnects, TCP_NODELAY."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from contract import topics
from tests.broker.broker_helpers import WAIT, Broker, EchoResponder
from tests.waiting import eventually
from vehicle_sim.client import SignupClient, VehicleClient, signup
from vehicle_sim.errors import ConnectFailed, ReplyError, RequestTimeout


def car(broker: Broker, name: str = "veh-a", **kw: Any) -> VehicleClient:
    client = VehicleClient("127.0.0.1", broker.port, broker.company, name, name, broker.users[name], **kw)
    client.connect(WAIT)
    return client


def test_a_request_gets_its_reply(broker: Broker, responder: EchoResponder) -> None:
    with car(broker) as client:
        result = client.request("echo", x=1, where="salvador")
    assert result == {"op": "echo", "args": {"x": 1, "where": "salvador"}, "token": None, "vehicle": "veh-a"}


def test_the_token_travels_with_every_request_once_set(broker: Broker, responder: EchoResponder) -> None:
    with car(broker) as client:
        client.token = "t-123"
        assert client.request("echo")["token"] == "t-123"


def test_an_error_reply_raises_reply_error_with_its_code(broker: Broker, responder: EchoResponder) -> None:
    with car(broker) as client:
        with pytest.raises(ReplyError) as caught:
            client.request("fail")
        raw = client.request_raw("fail")
    assert caught.value.code == "NOPE"
    assert raw["ok"] is False and raw["error"]["code"] == "NOPE"


def test_the_same_request_id_retried_gets_the_first_answer(broker: Broker, responder: EchoResponder) -> None:
    with car(broker) as client:
        first = client.request_raw("echo", request_id="trip-1", n=1)
        again = client.request_raw("echo", request_id="trip-1", n=1)
    assert first == again
    assert first["id"] == "trip-1"
    assert responder.executions["trip-1"] == 1
    assert responder.deliveries["trip-1"] == 2


def test_no_reply_raises_request_timeout_then_a_retry_with_the_same_id_succeeds(
    broker: Broker, responder: EchoResponder
) -> None:
    responder.answering.clear()
    with car(broker) as client:
        with pytest.raises(RequestTimeout) as caught:
            client.request("echo", timeout=0.3, request_id="slow-1")
        assert caught.value.request_id == "slow-1"
        responder.answering.set()
        assert client.request("echo", request_id="slow-1")["op"] == "echo"
    assert responder.executions["slow-1"] == 1


def test_concurrent_requests_each_get_their_own_reply(broker: Broker, responder: EchoResponder) -> None:
    results: dict[int, Any] = {}
    with car(broker) as client:

        def ask(i: int) -> None:
            results[i] = client.request("echo", i=i)["args"]["i"]

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
    assert results == {i: i for i in range(20)}


def test_each_vehicle_is_answered_on_its_own_topic(broker: Broker, responder: EchoResponder) -> None:
    with car(broker, "veh-a") as a, car(broker, "veh-b") as b:
        assert a.request("echo")["vehicle"] == "veh-a"
        assert b.request("echo")["vehicle"] == "veh-b"


def test_a_wrong_password_raises_connect_failed(broker: Broker) -> None:
    client = VehicleClient("127.0.0.1", broker.port, broker.company, "veh-a", "veh-a", "wrong")
    with pytest.raises(ConnectFailed):
        client.connect(WAIT)


def test_no_broker_raises_connect_failed(broker: Broker) -> None:
    port = broker.port
    broker.process.stop()
    client = VehicleClient("127.0.0.1", port, broker.company, "veh-a", "veh-a", "a-secret")
    with pytest.raises(ConnectFailed):
        client.connect(0.5)


def test_tcp_nodelay_is_set_on_the_client_socket(broker: Broker) -> None:
    with car(broker) as client:
        sock = client.mqtt_client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_request_survives_a_broker_crash_and_is_executed_once(
    broker: Broker, responder: EchoResponder
) -> None:
    responder.answering.clear()  # the first delivery is executed but its reply "lost" in the crash
    # resend_interval: after the restart the responder may subscribe again only after the car
    # has re-published; a periodic re-send (same id) closes that race.
    client = car(broker, resend_interval=0.5)
    outcome: dict[str, Any] = {}

    def ask() -> None:
        try:
            outcome["result"] = client.request("echo", timeout=3 * WAIT, request_id="crash-1", leg=1)
        except Exception as exc:  # reported below
            outcome["error"] = exc

    asker = threading.Thread(target=ask)
    asker.start()
    assert responder.held.wait(WAIT)
    broker.process.kill()
    responder.answering.set()
    broker.process.start()  # same port, empty broker: sessions and subscriptions are gone
    asker.join(4 * WAIT)
    client.close()

    expected = {"op": "echo", "args": {"leg": 1}, "token": None, "vehicle": "veh-a"}
    assert outcome.get("result", outcome) == expected
    assert responder.executions["crash-1"] == 1
    assert responder.deliveries["crash-1"] >= 2


def test_a_reply_published_while_the_car_is_offline_reaches_it_after_reconnect(
    broker: Broker, responder: EchoResponder
) -> None:
    responder.answering.clear()
    client = car(broker)
    outcome: dict[str, Any] = {}
    asker = threading.Thread(target=lambda: outcome.setdefault("r", client.request("echo", timeout=3 * WAIT)))
    asker.start()
    assert responder.held.wait(WAIT)
    # Cut the car's connection under paho, as a flaky network would; the broker keeps its session.
    sock = client.mqtt_client.socket()
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    deadline = time.monotonic() + WAIT
    while client.is_connected and time.monotonic() < deadline:
        time.sleep(0.01)
    responder.release()  # paho waits ~1 s before reconnecting: the reply lands in the session
    asker.join(4 * WAIT)
    client.close()
    assert outcome["r"]["op"] == "echo"
    # QoS 1: if the cut beat the PUBACK, paho re-sent the request (DUP) — executed once all the same.
    assert list(responder.executions.values()) == [1]


def test_signup_over_mqtt_returns_credentials_that_log_in(broker: Broker, responder: EchoResponder) -> None:
    result = signup(
        "127.0.0.1", broker.port, broker.company, {"name": "Maria"}, username="signup", password="signup"
    )
    assert result["form"] == {"name": "Maria"}
    vehicle = result["vehicle_id"]
    def connected() -> VehicleClient:
        client = VehicleClient("127.0.0.1", broker.port, broker.company, vehicle, result["username"],
                               result["password"])
        client.connect(WAIT)
        return client

    # The broker applies the SIGHUP a moment after the reply.
    with eventually(connected, timeout=WAIT, every=0.05, ignoring=(ConnectFailed,)) as client:
        assert client.request("echo")["vehicle"] == vehicle


def test_the_signup_client_uses_an_unguessable_client_id(broker: Broker) -> None:
    a = SignupClient("127.0.0.1", broker.port, broker.company, "signup", "signup")
    b = SignupClient("127.0.0.1", broker.port, broker.company, "signup", "signup")
    assert a.client_id != b.client_id and len(a.client_id) > 30
    assert a.reply_topic == topics.signup_reply(broker.company, a.client_id)
