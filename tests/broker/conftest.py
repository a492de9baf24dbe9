"""A real Mosquitto per test on a free loopback port, with its accounts; a stand-in server.

`broker` keeps every login in the password file; `login_broker` runs each test
twice, once so and once with the vehicles in the dynamic-security plugin (what
the servers use), for the tests of who may log in and what they may touch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mosquitto import AclFile, BrokerProcess, PasswordFile, find_mosquitto, vehicle_acls
from mosquitto.dynsec import DynsecClient
from mosquitto.logins import DynsecLogins
from tests.broker.broker_helpers import Broker, EchoResponder, Probe

try:
    find_mosquitto()
except RuntimeError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"needs mosquitto: {exc}", allow_module_level=True)


SERVICE = {"server": "server-secret", "dashboard": "dash-secret", "signup": "signup"}
VEHICLES = {"veh-a": "a-secret", "veh-b": "b-secret"}


@contextmanager
def running_broker(tmp_path: Path, mode: str = "file") -> Iterator[Broker]:
    """A broker whose vehicles `veh-a`, `veh-b` are in the password file, or in the dynsec plugin."""
    dynsec = mode == "dynsec"
    company = f"co{uuid.uuid4().hex[:8]}"
    process = BrokerProcess(tmp_path / "broker", dynsec=dynsec)
    passwords = PasswordFile(process.password_file)
    passwords.set_many(SERVICE if dynsec else {**SERVICE, **VEHICLES})
    AclFile(company, dynsec=dynsec).write(process.acl_file)
    with process:
        if not dynsec:
            yield Broker(process, company, passwords, {**SERVICE, **VEHICLES})
            return
        client = DynsecClient("127.0.0.1", process.port, "server", SERVICE["server"]).start()
        try:
            logins = DynsecLogins(client, lambda username: vehicle_acls(company, username))
            logins.add(VEHICLES)
            yield Broker(process, company, passwords, {**SERVICE, **VEHICLES}, logins)
        finally:
            client.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path) as running:
        yield running


@pytest.fixture(params=["file", "dynsec"])
def login_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path, request.param) as running:
        yield running


@pytest.fixture
def probe(broker: Broker) -> Iterator[Any]:
    """Factory: `probe(username)` returns a connected Probe (closed after the test)."""
    made: list[Probe] = []

    def make(username: str, password: str | None = None, **kw: Any) -> Probe:
        p = Probe(broker.port, username, broker.users[username] if password is None else password, **kw)
        made.append(p)
        assert p.connect(), f"{username} could not log in"
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def responder(broker: Broker) -> Iterator[EchoResponder]:
    r = EchoResponder(broker).start()
    yield r
    r.stop()
