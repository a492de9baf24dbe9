"""Logging in: only accounts in the password file we wrote ($7$ hashes) get through."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mosquitto import hash_broker_password, verify_broker_password
from tests.broker.broker_helpers import Broker, Probe


@pytest.fixture
def broker(login_broker: Broker) -> Broker:
    """Every test here runs with the vehicles in the password file, then in the dynamic-security plugin."""
    return login_broker


def test_anonymous_connection_is_refused(broker: Broker) -> None:
    assert not Probe(broker.port, None, None).connect()


def test_wrong_password_is_refused(broker: Broker) -> None:
    assert not Probe(broker.port, "veh-a", "not-the-password").connect()


def test_unknown_user_is_refused(broker: Broker) -> None:
    assert not Probe(broker.port, "nobody", "a-secret").connect()


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
def test_right_password_is_accepted(broker: Broker, v5: bool) -> None:
    p = Probe(broker.port, "veh-a", "a-secret", v5=v5)
    assert p.connect()
    p.close()


def test_hash_has_the_mosquitto_2_shape() -> None:
    hashed = hash_broker_password("secret", salt=b"0123456789ab")
    empty, kind, iterations, salt, digest = hashed.split("$")
    assert (empty, kind, iterations, salt) == ("", "7", "101", "MDEyMzQ1Njc4OWFi")
    assert len(digest) == 88  # base64 of 64 bytes
    assert verify_broker_password("secret", hashed)
    assert not verify_broker_password("Secret", hashed)


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto_passwd")
def test_hashes_from_mosquitto_passwd_verify(tmp_path: Path) -> None:
    file = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(file), "maria", "s3nha forte"], check=True)
    user, hashed = file.read_text().strip().split(":", 1)
    assert user == "maria"
    assert verify_broker_password("s3nha forte", hashed)
    assert not verify_broker_password("s3nha", hashed)
