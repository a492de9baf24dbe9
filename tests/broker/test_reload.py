"""Credentials change while the broker runs: SIGHUP re-reads the password file."""

from __future__ import annotations

from tests.broker.broker_helpers import WAIT, Broker, Probe
from tests.waiting import eventually


def login_becomes(broker: Broker, username: str, password: str, *, accepted: bool) -> bool:
    """Try to log in until the outcome is `accepted` (SIGHUP is handled a moment later); bounded."""
    def outcome_is_accepted() -> bool:
        p = Probe(broker.port, username, password)
        ok = p.connect()
        if ok:
            p.close()
        return ok == accepted

    return eventually(outcome_is_accepted, timeout=WAIT, every=0.05,
                      what=f"{username}'s login {'accepted' if accepted else 'refused'}")


def test_a_user_added_and_reloaded_can_log_in_without_a_restart(broker: Broker) -> None:
    pid = broker.process.pid
    assert not Probe(broker.port, "veh-new", "n3w").connect()
    broker.passwords.set("veh-new", "n3w")
    broker.process.reload()
    assert login_becomes(broker, "veh-new", "n3w", accepted=True)
    assert broker.process.pid == pid


def test_a_revoked_user_is_refused_after_reload(broker: Broker) -> None:
    assert login_becomes(broker, "veh-b", "b-secret", accepted=True)
    assert broker.passwords.remove("veh-b")
    broker.process.reload()
    assert login_becomes(broker, "veh-b", "b-secret", accepted=False)
    assert login_becomes(broker, "veh-a", "a-secret", accepted=True)  # the others are untouched


def test_a_changed_password_replaces_the_old_one_after_reload(broker: Broker) -> None:
    broker.passwords.set("veh-a", "rotated")
    broker.process.reload()
    assert login_becomes(broker, "veh-a", "rotated", accepted=True)
    assert login_becomes(broker, "veh-a", "a-secret", accepted=False)


def test_reload_disconnects_a_revoked_user_that_is_still_connected(broker: Broker) -> None:
    connected = Probe(broker.port, "veh-b", "b-secret")
    assert connected.connect()
    broker.passwords.remove("veh-b")
    broker.process.reload()
    assert connected.disconnected.wait(WAIT)
    connected.close()
