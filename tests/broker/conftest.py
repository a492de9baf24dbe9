"""A real Mosquitto per test on a free loopback port, with its accounts; a stand-in server."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The repository root, for `import mosquitto` / `servers` / `vehicle_sim` under a bare `pytest`
# (pyproject sets no pythonpath); harmless when it is already there.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from broker_helpers import Broker, EchoResponder, Probe  # noqa: E402

from mosquitto import AclFile, BrokerProcess, PasswordFile, find_mosquitto  # noqa: E402

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
