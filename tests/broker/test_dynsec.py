"""Vehicle logins at run time through the dynamic-security plugin: no file, no SIGHUP, in batches."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mosquitto import vehicle_acls
from mosquitto.dynsec import DynsecClient
from mosquitto.logins import DynsecLogins, fingerprint
from tests.broker.broker_helpers import WAIT, Broker, Probe
from tests.broker.conftest import SERVICE, running_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path, "dynsec") as running:
        yield running


@pytest.fixture
def admin(broker: Broker) -> Iterator[DynsecClient]:
    """A second admin connection, as a restarted server would open (it knows nothing yet)."""
    client = DynsecClient("127.0.0.1", broker.port, "server", SERVICE["server"]).start()
    yield client
    client.stop()


def logins_of(broker: Broker, client: DynsecClient) -> DynsecLogins:
    return DynsecLogins(client, lambda username: vehicle_acls(broker.company, username))


def can_log_in(broker: Broker, username: str, password: str) -> bool:
    probe = Probe(broker.port, username, password)
    ok = probe.connect()
    if ok:
        probe.close()
    return ok


def test_a_login_works_on_the_first_try_once_add_returns(broker: Broker) -> None:
    assert broker.logins is not None
    for n in range(5):  # no retry loop: add() returns only after the broker took the login
        name, password = f"v{n}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        assert not can_log_in(broker, name, password)
        broker.logins.add({name: password})
        assert can_log_in(broker, name, password)
    assert sorted(broker.passwords.users()) == sorted(SERVICE)  # nothing was written to the password file


def test_a_new_password_disconnects_the_old_session_and_refuses_the_old_password(broker: Broker) -> None:
    assert broker.logins is not None
    connected = Probe(broker.port, "veh-a", "a-secret")
    assert connected.connect()
    broker.logins.add({"veh-a": "generation-2"})
    assert connected.disconnected.wait(WAIT)
    connected.close()
    assert not can_log_in(broker, "veh-a", "a-secret")
    assert can_log_in(broker, "veh-a", "generation-2")


def test_revoking_disconnects_and_refuses_and_leaves_the_others_alone(broker: Broker) -> None:
    assert broker.logins is not None
    connected = Probe(broker.port, "veh-b", "b-secret")
    assert connected.connect()
    broker.logins.revoke(["veh-b"])
    assert connected.disconnected.wait(WAIT)
    connected.close()
    assert not can_log_in(broker, "veh-b", "b-secret")
    assert can_log_in(broker, "veh-a", "a-secret")
    broker.logins.revoke(["veh-b"])  # revoking twice is not an error


def test_adding_a_login_the_broker_has_sends_nothing_and_keeps_its_session(broker: Broker) -> None:
    assert broker.logins is not None
    connected = Probe(broker.port, "veh-a", "a-secret")
    assert connected.connect()
    before = broker.logins.client.messages_sent
    broker.logins.add({"veh-a": "a-secret"})
    assert broker.logins.client.messages_sent == before
    connected.subscribe("anything")  # still connected: the SUBACK comes back
    assert not connected.disconnected.is_set()
    connected.close()


def test_a_burst_of_sign_ups_goes_out_in_a_few_messages(broker: Broker) -> None:
    assert broker.logins is not None
    logins = {f"burst-{n:03d}": uuid.uuid4().hex for n in range(60)}
    before = broker.logins.client.messages_sent
    gate = threading.Barrier(len(logins))
    errors: list[BaseException] = []

    def sign_up(name: str) -> None:
        gate.wait(WAIT)
        try:
            broker.logins.add({name: logins[name]})  # type: ignore[union-attr]
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(name,)) for name in logins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert errors == []
    sent = broker.logins.client.messages_sent - before
    assert 1 <= sent < len(logins) / 4, f"{sent} messages for {len(logins)} sign-ups"
    assert all(can_log_in(broker, name, password) for name, password in list(logins.items())[::15])


def test_a_restarted_server_syncs_only_the_differences(broker: Broker, admin: DynsecClient) -> None:
    # What the log says now: veh-a unchanged, veh-b with a new password, veh-c new; some old login gone.
    assert broker.logins is not None
    broker.logins.add({"gone": "old"})
    connected = Probe(broker.port, "veh-a", "a-secret")
    assert connected.connect()
    fresh = logins_of(broker, admin)
    report = fresh.sync_all({"veh-a": "a-secret", "veh-b": "b-2", "veh-c": "c-1"})
    assert (report.on_broker, report.added, report.revoked) == (3, 2, 1)
    assert fresh.known() == {u: fingerprint(u, p) for u, p in
                             {"veh-a": "a-secret", "veh-b": "b-2", "veh-c": "c-1"}.items()}
    assert can_log_in(broker, "veh-b", "b-2") and can_log_in(broker, "veh-c", "c-1")
    assert not can_log_in(broker, "gone", "old") and not can_log_in(broker, "veh-b", "b-secret")
    connected.subscribe("anything")
    assert not connected.disconnected.is_set()  # an unchanged login keeps its session
    connected.close()
    again = fresh.sync_all({"veh-a": "a-secret", "veh-b": "b-2", "veh-c": "c-1"})
    assert (again.added, again.revoked) == (0, 0)


def test_a_full_sync_larger_than_one_message_reaches_the_broker(broker: Broker, admin: DynsecClient) -> None:
    # 400 logins are ~120 KiB of commands: past the broker's max_packet_size (64 KiB), which would drop the
    # admin's connection if they left as one message.
    logins = {f"veh-{n:03d}": f"secret-{n}" for n in range(400)}
    fresh = logins_of(broker, admin)
    report = fresh.sync_all(logins, timeout=60)
    assert report.added == 400
    assert admin.messages_sent >= 3
    assert can_log_in(broker, "veh-000", "secret-0") and can_log_in(broker, "veh-399", "secret-399")
    assert len(fresh.known()) == 400


def test_clients_not_made_by_us_are_never_touched(broker: Broker, admin: DynsecClient) -> None:
    [created] = admin.call([{"command": "createClient", "username": "operator", "password": "op-secret"}])
    assert "error" not in created
    logins_of(broker, admin).sync_all({})
    assert can_log_in(broker, "operator", "op-secret")
    assert not can_log_in(broker, "veh-a", "a-secret")  # ours, and not in the log: revoked


def test_a_login_we_did_not_know_about_is_looked_at_before_being_changed(broker: Broker,
                                                                          admin: DynsecClient) -> None:
    connected = Probe(broker.port, "veh-a", "a-secret")
    assert connected.connect()
    fresh = logins_of(broker, admin)  # no sync: it believes the broker is empty
    fresh.add({"veh-a": "a-secret"})  # "already exists" -> same fingerprint -> left alone
    connected.subscribe("anything")
    assert not connected.disconnected.is_set()
    fresh.add({"veh-b": "b-new"})  # "already exists" -> another fingerprint -> changed
    assert can_log_in(broker, "veh-b", "b-new") and not can_log_in(broker, "veh-b", "b-secret")
    connected.close()


def test_commands_waiting_while_the_broker_restarts_are_applied_after_it(broker: Broker) -> None:
    assert broker.logins is not None
    broker.process.stop()
    result: dict[str, object] = {}

    def add() -> None:
        try:
            broker.logins.add({"late": "l8"}, timeout=30)  # type: ignore[union-attr]
            result["ok"] = True
        except Exception as exc:
            result["error"] = exc

    waiter = threading.Thread(target=add)
    waiter.start()
    broker.process.start()  # same port and files: the plugin reloads its JSON
    waiter.join(40)
    assert result == {"ok": True}
    assert can_log_in(broker, "late", "l8") and can_log_in(broker, "veh-a", "a-secret")


def test_the_vehicle_role_grants_only_its_own_topics() -> None:
    acls = vehicle_acls("voltpoint", "v1")
    assert {(a["acltype"], a["topic"]) for a in acls} == {
        ("publishClientSend", "recarga/v1/voltpoint/vehicles/v1/request"),
        ("publishClientReceive", "recarga/v1/voltpoint/vehicles/v1/reply"),
        ("subscribeLiteral", "recarga/v1/voltpoint/vehicles/v1/reply")}
    assert all(a["allow"] for a in acls)
