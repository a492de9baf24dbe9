"""A real Mosquitto per test on a free loopback port, with its accounts; a stand-in server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mosquitto import AclFile, BrokerProcess, PasswordFile, find_mosquitto
from tests.broker.broker_helpers import Broker, EchoResponder, Probe

try:
    find_mosquitto()
except RuntimeError as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"needs mosquitto: {exc}", allow_module_level=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    company = f"co{uuid.uuid4().hex[:8]}"
    process = BrokerProcess(tmp_path / "broker")
    users = {
        "server": "server-secret",
        "dashboard": "dash-secret",
        "signup": "signup",
        "veh-a": "a-secret",
        "veh-b": "b-secret",
    }
    passwords = PasswordFile(process.password_file)
    passwords.set_many(users)
    AclFile(company).write(process.acl_file)
    with process:
        yield Broker(process, company, passwords, users)


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
