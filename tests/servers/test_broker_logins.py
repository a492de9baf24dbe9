"""A real server manages its vehicles' broker logins through the dynamic-security plugin, not files."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from federation.launcher import LocalNetwork
from mosquitto import PasswordFile, write_initial_dynsec_config
from tests.broker.broker_helpers import Probe
from tests.live import LiveNetworks, signup_form
from tests.waiting import eventually
from vehicle_sim.client import signup

pytestmark = pytest.mark.integration
COMPANY = "eflux"


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("logins-net") as running:
        yield running


def mqtt_signup(net: LocalNetwork, seed: int) -> dict[str, Any]:
    session: dict[str, Any] = signup("127.0.0.1", net.companies[COMPANY].broker_port, COMPANY,
                                     signup_form(seed, credit=0.0))
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
    body = httpx.post(net.companies[COMPANY].api_url + "/api/v1/accounts", json=signup_form(320, credit=0.0),
                      timeout=30).json()
    eventually(lambda: logs_in_once(net, body["broker"]["username"], body["broker"]["password"]), timeout=10,
               what="the REST sign-up's login never reached the broker")


def test_a_broker_that_lost_its_logins_gets_them_back_from_the_log(net: LocalNetwork) -> None:
    sessions = [mqtt_signup(net, 330 + n) for n in range(3)]
    broker = net.companies[COMPANY].broker
    assert broker is not None
    broker.stop()
    broker.dynsec_file.unlink()
    write_initial_dynsec_config(broker.dynsec_file)  # a broker with an empty plugin file: nobody can log in
    net.start_broker(COMPANY)
    # The server's admin reconnects and syncs every account of the log.
    eventually(lambda: all(logs_in_once(net, s["broker"]["username"], s["broker"]["password"]) for s in sessions),
               timeout=20, every=0.2, what="the vehicles' logins were not restored")
    assert not logs_in_once(net, sessions[0]["vehicle_id"], "a-guess-" + uuid.uuid4().hex)
