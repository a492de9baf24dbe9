"""Vehicles over MQTT against the real network: Mosquitto brokers with auth and ACL, servers with gateways."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import topics
from contract.clients import ClientsFile
from contract.mqtt import new_client
from events.store import SqliteEventStore
from federation.launcher import LocalNetwork
from tests.live import LiveNetworks, signup_form
from tests.waiting import eventually
from vehicle_sim.client import VehicleClient, signup
from vehicle_sim.errors import ConnectFailed, ReplyError

pytestmark = pytest.mark.integration
TOKEN = "__TOKEN__"


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("mqtt-net") as running:
        yield running


def broker_of(net: LocalNetwork, company: str) -> tuple[str, int]:
    return "127.0.0.1", net.companies[company].broker_port


def new_vehicle(net: LocalNetwork, company: str, seed: int, credit: float = 3000.0) -> VehicleClient:
    host, port = broker_of(net, company)
    session = signup(host, port, company, signup_form(seed, credit))
    car = VehicleClient(host, port, company, session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"], resend_interval=1.0)
    car.connect(timeout=10)
    car.token = session["token"]
    car.broker_password = session["broker"]["password"]  # type: ignore[attr-defined]  # for raw clients
    return car


def log_types(net: LocalNetwork, company: str) -> list[str]:
    with SqliteEventStore(net.log_path(company), create=False) as store:
        return [e.type for e in store.iter_all()]


def test_a_vehicle_signs_up_books_and_sees_its_reservations_over_mqtt(net):
    car = new_vehicle(net, "voltpoint", 11)
    try:
        account = car.request("account")
        assert account["balance"] == 3000.0 and account["vehicle"]["capacity_kwh"] == 60.0
        departure = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
        rid = uuid.uuid4().hex
        trip = car.request("book", 30, request_id=rid, origin="salvador", destination="fortaleza",
                           departure=departure)
        assert trip["status"] == "RESERVED"
        assert {s["company_id"] for s in trip["stops"]} == {"voltpoint", "ecocharge", "eflux"}
        again = car.request("book", 30, request_id=rid, origin="salvador", destination="fortaleza",
                            departure=departure)
        assert again == trip  # a repeated id gets the first answer
        assert log_types(net, "voltpoint").count("TripCommitted") == 1
        reservations = car.request("reservations")["reservations"]
        assert [r["point_id"] for r in reservations] == [s["point_id"] for s in trip["stops"]]
        cancelled = car.request("cancel", trip_id=trip["trip_id"])
        assert cancelled["status"] == "CANCELED" and cancelled["refund"] == trip["cost"]
    finally:
        car.close()


def test_a_refused_booking_is_an_error_reply_with_a_stable_code(net):
    car = new_vehicle(net, "eflux", 12, credit=0.0)
    try:
        with pytest.raises(ReplyError) as refused:
            car.request("book", 30, origin="fortaleza", destination="salvador")
        assert refused.value.code == "INSUFFICIENT_CREDIT"
        with pytest.raises(ReplyError) as unknown:
            car.request("plan", origin="atlantida", destination="recife")
        assert unknown.value.code == "UNKNOWN_CITY"
        with pytest.raises(ReplyError) as bad_op:
            car.request("teleport")
        assert bad_op.value.code == "UNKNOWN_OP"
    finally:
        car.close()


def test_a_token_works_only_for_its_own_vehicle(net):
    a, b = new_vehicle(net, "ecocharge", 13), new_vehicle(net, "ecocharge", 14)
    try:
        a.token, b.token = b.token, a.token
        with pytest.raises(ReplyError) as wrong:
            a.request("account")
        assert wrong.value.code == "BAD_TOKEN"
        a.token = "forged"
        with pytest.raises(ReplyError):
            a.request("add_credit", amount=10)
    finally:
        a.close()
        b.close()


def test_a_vehicle_cannot_use_another_vehicles_topics_on_the_real_broker(net):
    a, b = new_vehicle(net, "voltpoint", 15), new_vehicle(net, "voltpoint", 16)
    try:
        seen: list[bytes] = []
        a.subscribe(topics.vehicle_reply("voltpoint", b.vehicle_id), lambda _t, p: seen.append(p))
        before = b.request("account")["balance"]
        # A publishes a credit request, with B's token, on B's request topic: the ACL drops it.
        body = json.dumps({"id": "sneaky", "op": "add_credit", "args": {"amount": 999}, "token": b.token})
        a.mqtt_client.publish(topics.vehicle_request("voltpoint", b.vehicle_id), body, qos=1).wait_for_publish(5)
        b.request("account")  # B's own traffic goes on, and A hears none of B's replies
        time.sleep(0.5)
        assert b.request("account")["balance"] == before
        assert seen == []
    finally:
        a.close()
        b.close()


def test_plans_with_alternatives_over_mqtt(net):
    car = new_vehicle(net, "voltpoint", 20)
    try:
        plans = car.request("plan", origin="salvador", destination="recife", alternatives=3)["plans"]
        assert 1 < len(plans) <= 3
        assert [p["total_minutes"] for p in plans] == sorted(p["total_minutes"] for p in plans)
        with pytest.raises(ReplyError) as bad:
            car.request("plan", origin="salvador", destination="recife", alternatives=99)
        assert bad.value.code == "VALIDATION_ERROR"
    finally:
        car.close()


def test_a_second_login_keeps_the_first_device_connected_and_a_revoked_vehicle_is_refused(net):
    host, port = broker_of(net, "ecocharge")
    form = signup_form(21, credit=10.0)
    first = new_vehicle(net, "ecocharge", 21, credit=10.0)
    try:
        again = signup(host, port, "ecocharge", {"login": form["email"], "password": form["password"]}, op="login")
        assert again["broker"] == {"username": first.vehicle_id, "password": first.broker_password}
        time.sleep(0.5)
        assert first.request("account")["balance"] == 10.0  # the first device still works
        token = json.loads((net.run_dir / "service-logins.json").read_text())["ecocharge"]["operator"]
        revoked = httpx.post(f"{net.companies['ecocharge'].api_url}/api/v1/vehicles/{first.vehicle_id}/revoke",
                             headers={"X-Operator-Token": token})
        assert revoked.status_code == 200 and revoked.json()["tokens_revoked"] == 2
        time.sleep(0.5)
        with pytest.raises(ConnectFailed):
            VehicleClient(host, port, "ecocharge", first.vehicle_id, first.vehicle_id,
                          first.broker_password).connect(timeout=5)
        renewed = signup(host, port, "ecocharge", {"login": form["cpf"], "password": form["password"]}, op="login")
        assert renewed["broker"]["password"] != first.broker_password
        car = VehicleClient(host, port, "ecocharge", first.vehicle_id, first.vehicle_id,
                            renewed["broker"]["password"])
        car.connect(timeout=10)
        car.token = renewed["token"]
        assert car.request("account")["vehicle_id"] == first.vehicle_id
        car.close()
    finally:
        first.close()


def test_wrong_broker_passwords_and_anonymous_clients_are_refused(net):
    host, port = broker_of(net, "voltpoint")
    with pytest.raises(ConnectFailed):
        VehicleClient(host, port, "voltpoint", "v-nobody", "v-nobody", "guess").connect(timeout=5)


def test_availability_and_status_are_retained_on_the_broker(net):
    car = new_vehicle(net, "ecocharge", 17)
    try:
        got: dict[str, bytes] = {}
        done = threading.Event()

        def on(topic: str, payload: bytes) -> None:
            got[topic] = payload
            if topics.server_status("ecocharge") in got and len(got) > 3:
                done.set()

        car.subscribe(topics.all_availability("ecocharge"), on)
        car.subscribe(topics.server_status("ecocharge"), on)
        assert done.wait(10)
        assert got[topics.server_status("ecocharge")] == b"online"
        sample = json.loads(next(v for k, v in got.items() if k.endswith("/availability")))
        assert sample["points"] and "free" in sample["points"][0]
    finally:
        car.close()


class PointWatcher:
    """The dashboards' read-only login on one company's broker, keeping every point status message it gets."""

    def __init__(self, net: LocalNetwork, company: str) -> None:
        login = ClientsFile.read(net.clients_file).companies[company].dashboard
        assert login is not None
        self.got: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        self.client = new_client(f"watch-{uuid.uuid4().hex[:8]}", login.username, login.password)
        self.client.message_callback_add(topics.all_point_status(company), self._on)
        self.client.connect(*broker_of(net, company))
        self.client.subscribe(topics.all_point_status(company), qos=1)
        self.client.loop_start()

    def _on(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.setdefault(topics.parse_point_id(message.topic), []).append(json.loads(message.payload))

    def last(self, point: str) -> dict | None:
        with self.lock:
            seen = self.got.get(point)
            return seen[-1] if seen else None

    def status(self, point: str) -> str | None:
        last = self.last(point)
        return last["status"] if last else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_points_live_status_is_retained_and_follows_the_operator(net):
    company = "eflux"
    api = net.companies[company].api_url
    token = json.loads((net.run_dir / "service-logins.json").read_text())[company]["operator"]
    station = httpx.get(api + "/api/v1/stations").json()[-1]
    point = station["points"][-1]["point_id"]
    url = f"{api}/api/v1/points/{point}/status"
    watcher = PointWatcher(net, company)
    late = None
    try:
        # Every point's status is retained: a subscriber gets them all at once.
        eventually(lambda: watcher.status(point) == "AVAILABLE", 10, what="the retained status")
        assert len(watcher.got) == sum(len(s["points"]) for s in httpx.get(api + "/api/v1/stations").json())
        r = httpx.put(url, json={"status": "OUT_OF_ORDER", "reason": "cable cut"}, headers={"X-Operator-Token": token})
        assert r.status_code == 200 and r.json() == {"point_id": point, "status": "OUTOFORDER", "live": "OUTOFORDER"}
        eventually(lambda: watcher.status(point) == "OUTOFORDER", 10, what="OUTOFORDER published")
        message = watcher.last(point)
        assert message is not None
        assert (message["station_id"], message["company_id"]) == (station["station_id"], company)
        assert datetime.fromisoformat(message["since"]) > datetime.now(UTC) - timedelta(minutes=1)
        late = PointWatcher(net, company)  # a subscriber that comes later gets what is true now
        eventually(lambda: late.status(point) == "OUTOFORDER", 10, what="the retained OUTOFORDER")
        listed = {p["point_id"]: p for p in httpx.get(api + "/api/v1/points/status").json()}
        assert listed[point]["status"] == "OUTOFORDER" and listed[point]["station_id"] == station["station_id"]
        assert httpx.get(url).json()["status"] == "OUTOFORDER"
        assert httpx.get(f"{api}/api/v1/points/nowhere/status").json()["code"] == "UNKNOWN_POINT"
        r = httpx.put(url, json={"status": "AVAILABLE"}, headers={"X-Operator-Token": token})
        assert r.json()["live"] == "AVAILABLE"
        eventually(lambda: watcher.status(point) == "AVAILABLE", 10, what="AVAILABLE published")
        # One message per change: nothing was published for the other points meanwhile.
        assert [m["status"] for m in watcher.got[point]] == ["AVAILABLE", "OUTOFORDER", "AVAILABLE"]
    finally:
        httpx.put(url, json={"status": "AVAILABLE"}, headers={"X-Operator-Token": token})
        watcher.close()
        if late is not None:
            late.close()


def test_a_point_is_charging_while_a_stop_charges(net):
    car = new_vehicle(net, "voltpoint", 19)
    watchers: dict[str, PointWatcher] = {}
    try:
        departure = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        trip = car.request("book", 30, origin="salvador", destination="fortaleza", departure=departure)
        stop = trip["stops"][0]
        watcher = watchers[stop["company_id"]] = PointWatcher(net, stop["company_id"])
        eventually(lambda: watcher.status(stop["point_id"]) == "AVAILABLE", 10, what="the retained status")
        started = car.request("check_in", trip_id=trip["trip_id"], stop=0, action="start")
        assert started["charging"] == "CHARGING"
        eventually(lambda: watcher.status(stop["point_id"]) == "CHARGING", 10, what="CHARGING published")
        car.request("check_in", trip_id=trip["trip_id"], stop=0, action="finish")
        eventually(lambda: watcher.status(stop["point_id"]) == "AVAILABLE", 10, what="AVAILABLE again")
    finally:
        for w in watchers.values():
            w.close()
        car.close()


@pytest.fixture(scope="module")
def raw_sender(net):
    """A vehicle's own connection, used raw to send malformed payloads and read the replies."""
    car = new_vehicle(net, "voltpoint", 18)
    replies: list[dict] = []
    arrived = threading.Condition()

    def on_reply(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with arrived:
            replies.append(json.loads(message.payload))
            arrived.notify_all()

    host, port = broker_of(net, "voltpoint")
    raw = new_client(f"{car.vehicle_id}-raw", car.vehicle_id, car.broker_password)  # the car's own login
    raw.message_callback_add(topics.vehicle_reply("voltpoint", car.vehicle_id), on_reply)
    raw.connect(host, port)
    raw.subscribe(topics.vehicle_reply("voltpoint", car.vehicle_id), qos=1)
    raw.loop_start()
    time.sleep(0.3)
    assert net.settle(30)[0] == []  # earlier tests' phase two has landed: from here on only the fuzz writes
    head = len(log_types(net, "voltpoint"))
    yield raw, car, replies, arrived, head
    raw.loop_stop()
    raw.disconnect()
    car.close()


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
    # Well-formed envelopes with the car's real token and wrong arguments: past authentication, into the ops.
    st.fixed_dictionaries({"id": st.text(min_size=1, max_size=10), "token": st.just(TOKEN), "op": st.sampled_from(
        ["book", "cancel", "check_in", "plan", "account", "trips", "nope"]),
        "args": st.dictionaries(st.sampled_from(["origin", "destination", "amount", "trip_id", "stop",
                                                 "charge_kwh", "departure", "x"]),
                                st.one_of(st.none(), st.integers(), st.text(max_size=20), st.floats()),
                                max_size=4)}).map(lambda v: json.dumps(v).encode()),
))
def test_a_thousand_malformed_payloads_get_error_replies_and_book_nothing(raw_sender, payload):
    raw, car, replies, arrived, _ = raw_sender
    with arrived:
        count = len(replies)
    raw.publish(topics.vehicle_request("voltpoint", car.vehicle_id),
                payload.replace(TOKEN.encode(), car.token.encode()), qos=1)
    with arrived:
        assert arrived.wait_for(lambda: len(replies) > count, timeout=10), "no reply to a malformed payload"
        reply = replies[-1]
    if reply["ok"]:  # only a read can succeed with arguments made of noise
        assert set(reply["result"]) <= {"vehicle_id", "owner", "vehicle", "balance", "owed", "statement", "trips",
                                        "opened_at", "plans"}
    else:
        assert reply["error"]["code"] and reply["error"]["message"]


def test_an_oversized_request_gets_a_payload_too_large_reply(raw_sender):
    raw, car, replies, arrived, _ = raw_sender
    with arrived:
        count = len(replies)
    big = json.dumps({"id": "big", "op": "account", "token": car.token, "args": {"pad": "x" * 20_000}})
    raw.publish(topics.vehicle_request("voltpoint", car.vehicle_id), big, qos=1)
    with arrived:
        assert arrived.wait_for(lambda: len(replies) > count, timeout=10)
        assert replies[-1]["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_after_the_fuzzing_the_server_is_up_and_its_log_did_not_grow(net, raw_sender):
    _, car, replies, _, head = raw_sender
    assert len(replies) >= 1000
    assert car.request("account")["vehicle_id"] == car.vehicle_id
    assert len(log_types(net, "voltpoint")) == head
    assert car.request("trips")["trips"] == []


def test_a_broker_restart_while_a_vehicle_waits_answers_exactly_once(net):
    car = new_vehicle(net, "eflux", 19, credit=100.0)
    try:
        broker = net.companies["eflux"].broker
        assert broker is not None
        rid = uuid.uuid4().hex
        result: dict = {}

        def ask() -> None:
            result["reply"] = car.request("add_credit", 40, request_id=rid, amount=25)

        broker.kill()
        waiter = threading.Thread(target=ask)
        waiter.start()
        time.sleep(1.0)
        net.start_broker("eflux")  # same port and files: the plugin reloads its logins
        waiter.join(45)
        assert result.get("reply", {}).get("balance") == 125.0
        assert car.request("account")["balance"] == 125.0  # credited exactly once
    finally:
        car.close()


def test_a_past_departure_is_refused_over_mqtt_and_a_reused_id_names_its_first_op(net):
    car = new_vehicle(net, "voltpoint", 21)
    try:
        with pytest.raises(ReplyError) as past:
            car.request("book", 30, origin="salvador", destination="recife", departure="2020-01-01T00:00:00Z")
        assert past.value.code == "DEPARTURE_IN_PAST"
        assert car.request("account")["balance"] == 3000.0
        rid = uuid.uuid4().hex
        car.request("add_credit", request_id=rid, amount=5)
        with pytest.raises(ReplyError) as reused:
            car.request("book", 30, request_id=rid, origin="salvador", destination="recife")
        assert reused.value.code == "REQUEST_ID_REUSED"
        assert car.request("account")["balance"] == 3005.0
    finally:
        car.close()


def _raw_reply(raw_sender, payload: bytes, correlation: bytes | None) -> dict:
    raw, car, replies, arrived, _ = raw_sender
    with arrived:
        count = len(replies)
    props = None
    if correlation is not None:
        from contract.mqtt import request_properties

        props = request_properties(topics.vehicle_reply("voltpoint", car.vehicle_id), correlation)
    raw.publish(topics.vehicle_request("voltpoint", car.vehicle_id), payload, qos=1, properties=props)
    with arrived:
        assert arrived.wait_for(lambda: len(replies) > count, timeout=10)
        return replies[-1]


def test_replies_name_their_request_and_operation_even_when_the_payload_is_bad(raw_sender):
    _, car, _, _, _ = raw_sender
    assert _raw_reply(raw_sender, b"\xff not json", b"corr-1")["id"] == "corr-1"
    big = json.dumps({"id": "big-2", "op": "account", "token": car.token, "args": {"pad": "x" * 20_000}}).encode()
    too_large = _raw_reply(raw_sender, big, None)
    assert too_large["id"] == "big-2" and too_large["error"]["code"] == "PAYLOAD_TOO_LARGE"
    ok = _raw_reply(raw_sender, json.dumps({"id": "acc-3", "op": "account", "token": car.token}).encode(), b"acc-3")
    assert ok["ok"] and ok["op"] == "account" and ok["id"] == "acc-3"
    bad_args = _raw_reply(raw_sender, json.dumps({"id": "cr-4", "op": "add_credit", "token": car.token,
                                                  "args": {"amount": -1}}).encode(), b"cr-4")
    assert bad_args["op"] == "add_credit" and bad_args["error"]["code"] == "VALIDATION_ERROR"


def test_an_answer_over_the_brokers_packet_limit_is_cut_to_fit_and_the_server_stays_connected(net):
    """A driver with many trips: their list passes 64 KiB. Published whole, the broker would drop the server's
    connection — every vehicle's answer then waits — and paho would resend it on every reconnect."""
    car = new_vehicle(net, "voltpoint", 31, credit=10000.0)
    other = new_vehicle(net, "voltpoint", 32)
    try:
        start = datetime.now(UTC) + timedelta(days=60)
        booked = [car.request("book", 30, origin="salvador", destination="fortaleza",
                              departure=(start + timedelta(days=3 * i)).isoformat())["trip_id"] for i in range(16)]
        listed = car.request("trips", 30)
        assert listed["omitted"] > 0, "16 three-company itineraries should pass 64 KiB"
        assert [t["trip_id"] for t in listed["trips"]] == booked[::-1][:len(listed["trips"])]  # newest first
        assert len(listed["trips"]) + listed["omitted"] == 16
        assert other.request("account", 10)["balance"] == 3000.0  # still served at once
        log = (net.run_dir / "brokers" / "voltpoint" / "mosquitto.log").read_text()
        assert "oversize" not in log
    finally:
        car.close()
        other.close()
