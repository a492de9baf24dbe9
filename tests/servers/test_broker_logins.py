"""A real server manages its vehicles' broker logins through the dynamic-security plugin, not files."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mosquitto import PasswordFile, write_initial_dynsec_config
from servers.contract.fake import fake_vehicle_form
from servers.launcher import LocalNetwork
from tests.broker.broker_helpers import Probe
from vehicle_sim.client import signup

pytestmark = pytest.mark.integration
CAR = {"capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "charge_kwh": 54.0, "max_ac_kw": 11.0,
       "max_dc_kw": 100.0, "profile": "normal"}
COMPANY = "eflux"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    network = LocalNetwork(tmp_path_factory.mktemp("logins-net"), free_ports=True, mqtt=True,
                           env={"RECARGA_TICK_S": "0.2", "RECARGA_SYNCHRONOUS": "NORMAL"})
    network.start()
    yield network
    network.stop()


def mqtt_signup(net: LocalNetwork, seed: int) -> dict[str, Any]:
    form = {**fake_vehicle_form(seed), **CAR, "initial_credit": 0.0}
    session: dict[str, Any] = signup("127.0.0.1", net.companies[COMPANY].broker_port, COMPANY, form)
    return session


def logs_in_once(net: LocalNetwork, username: str, password: str) -> bool:
    """One connection attempt, no retry."""
    probe = Probe(net.companies[COMPANY].broker_port, username, password)
    ok = probe.connect()
    if ok:
        probe.close()
    return ok


def dynsec_usernames(net: LocalNetwork) -> set[str]:
    broker = net.companies[COMPANY].broker
    assert broker is not None
    return {c["username"] for c in json.loads(broker.dynsec_file.read_text())["clients"]}


def test_an_mqtt_sign_up_is_answered_only_once_its_login_works(net: LocalNetwork) -> None:
    for seed in range(4):
        session = mqtt_signup(net, 300 + seed)
        assert logs_in_once(net, session["broker"]["username"], session["broker"]["password"])


def test_vehicle_logins_live_in_the_plugin_and_never_in_the_password_file(net: LocalNetwork) -> None:
    session = mqtt_signup(net, 310)
    broker = net.companies[COMPANY].broker
    assert broker is not None
    assert sorted(PasswordFile(broker.password_file).users()) == ["dashboard", "server", "signup"]
    assert session["vehicle_id"] in dynsec_usernames(net)
    assert session["broker"]["password"] not in broker.dynsec_file.read_text()  # the plugin keeps a hash


def test_a_rest_sign_up_reaches_the_broker_in_the_background(net: LocalNetwork) -> None:
    form = {**fake_vehicle_form(320), **CAR, "initial_credit": 0.0}
    body = httpx.post(net.companies[COMPANY].api_url + "/api/v1/accounts", json=form, timeout=30).json()
    deadline = time.monotonic() + 10
    while not logs_in_once(net, body["broker"]["username"], body["broker"]["password"]):
        assert time.monotonic() < deadline, "the REST sign-up's login never reached the broker"
        time.sleep(0.1)


def test_a_broker_that_lost_its_logins_gets_them_back_from_the_log(net: LocalNetwork) -> None:
    sessions = [mqtt_signup(net, 330 + n) for n in range(3)]
    broker = net.companies[COMPANY].broker
    assert broker is not None
    broker.stop()
    broker.dynsec_file.unlink()
    write_initial_dynsec_config(broker.dynsec_file)  # a broker with an empty plugin file: nobody can log in
    net.start_broker(COMPANY)
    deadline = time.monotonic() + 20
    for s in sessions:  # the server's admin reconnects and syncs every account of the log
        while not logs_in_once(net, s["broker"]["username"], s["broker"]["password"]):
            assert time.monotonic() < deadline, f"{s['vehicle_id']}'s login was not restored"
            time.sleep(0.2)
    assert not logs_in_once(net, sessions[0]["vehicle_id"], "a-guess-" + uuid.uuid4().hex)
