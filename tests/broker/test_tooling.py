"""The pure parts: topic builders, ACL and config rendering, password file edits, the CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from contract import topics
from mosquitto import AclFile, PasswordFile, free_port, render_config, verify_broker_password
from mosquitto.cli import connack, main
from tests.broker.broker_helpers import Broker


def test_topics_live_under_the_versioned_root() -> None:
    assert topics.vehicle_request("voltpoint", "v-1") == "recarga/v1/voltpoint/vehicles/v-1/request"
    assert topics.vehicle_reply("voltpoint", "v-1") == "recarga/v1/voltpoint/vehicles/v-1/reply"
    assert topics.all_requests("voltpoint") == "recarga/v1/voltpoint/vehicles/+/request"
    assert topics.station_availability("eflux", "st-3") == "recarga/v1/eflux/stations/st-3/availability"
    assert topics.all_availability("eflux") == "recarga/v1/eflux/stations/+/availability"
    assert topics.booking_feed("ecocharge") == "recarga/v1/ecocharge/feed"
    assert topics.point_status("eflux", "p-3") == "recarga/v1/eflux/points/p-3/status"
    assert topics.all_point_status("eflux") == "recarga/v1/eflux/points/+/status"
    assert topics.server_status("ecocharge") == "recarga/v1/ecocharge/status"
    assert topics.signup_request("eflux", "c1") == "recarga/v1/eflux/signup/c1/request"
    assert topics.signup_reply("eflux", "c1") == "recarga/v1/eflux/signup/c1/reply"


def test_parse_vehicle_id_inverts_vehicle_request() -> None:
    assert topics.parse_vehicle_id(topics.vehicle_request("voltpoint", "v-42")) == "v-42"
    assert topics.parse_signup_client_id(topics.signup_request("voltpoint", "c-7")) == "c-7"
    assert topics.parse_point_id(topics.point_status("voltpoint", "p-7")) == "p-7"
    assert topics.parse_company(topics.booking_feed("eflux")) == "eflux"


@pytest.mark.parametrize(
    "topic",
    [
        "recarga/v1/voltpoint/vehicles/v-1/reply",
        "recarga/v2/voltpoint/vehicles/v-1/request",
        "recarga/v1/voltpoint/vehicles/+/request",
        "recarga/v1/voltpoint/vehicles//request",
        "recarga/v1/voltpoint/vehicles/a/b/request",
        "other",
    ],
)
def test_parse_vehicle_id_refuses_other_topics(topic: str) -> None:
    with pytest.raises(ValueError):
        topics.parse_vehicle_id(topic)


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "v#1", "x\x00"])
def test_ids_that_would_escape_their_topic_level_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        topics.vehicle_request("voltpoint", bad)
    with pytest.raises(ValueError):
        topics.booking_feed(bad)


def test_the_acl_binds_vehicle_topics_to_the_username_and_signup_to_the_client_id() -> None:
    acl = AclFile("voltpoint").render()
    assert "pattern write recarga/v1/voltpoint/vehicles/%u/request" in acl
    assert "pattern read recarga/v1/voltpoint/vehicles/%u/reply" in acl
    assert "pattern write recarga/v1/voltpoint/signup/%c/request" in acl
    assert "pattern read recarga/v1/voltpoint/signup/%c/reply" in acl
    assert "topic read recarga/v1/voltpoint/vehicles/+/request" in acl
    assert "eflux" not in acl


def test_with_the_plugin_the_acl_leaves_vehicles_to_it_and_lets_the_server_command_it() -> None:
    acl = AclFile("voltpoint", dynsec=True).render()
    assert "%u" not in acl  # each vehicle's own role grants its topics
    assert "pattern write recarga/v1/voltpoint/signup/%c/request" in acl  # the plugin cannot say %c
    server_block = acl.split("user server")[1].split("user dashboard")[0]
    assert "topic readwrite $CONTROL/dynamic-security/#" in server_block
    assert "$CONTROL" not in acl.split("user dashboard")[1]


def test_the_config_loads_the_plugin_on_its_own_file(tmp_path: Path) -> None:
    text = render_config(1884, tmp_path / "data", tmp_path / "pw", tmp_path / "acl",
                         dynsec_plugin="/usr/lib/x/mosquitto_dynamic_security.so", dynsec_file=tmp_path / "ds.json")
    lines = text.splitlines()
    assert "plugin /usr/lib/x/mosquitto_dynamic_security.so" in lines
    assert f"plugin_opt_config_file {tmp_path / 'ds.json'}" in lines
    assert f"password_file {tmp_path / 'pw'}" in lines  # the fixed accounts stay in the file


def test_the_health_check_sees_a_broker_and_not_a_closed_port(broker: Broker) -> None:
    assert main(["health", "--port", str(broker.port)]) == 0
    assert connack("127.0.0.1", broker.port, 3.0) == 5  # no login: refused, which proves it checks logins
    assert main(["health", "--port", str(free_port()), "--timeout", "1"]) == 1


def test_the_config_has_nodelay_no_anonymous_and_a_packet_limit(tmp_path: Path) -> None:
    text = render_config(1884, tmp_path / "data", tmp_path / "pw", tmp_path / "acl", bind="0.0.0.0")
    lines = text.splitlines()
    for line in (
        "listener 1884 0.0.0.0",
        "set_tcp_nodelay true",
        "allow_anonymous false",
        "persistence true",
        f"persistence_location {tmp_path / 'data'}/",
        f"password_file {tmp_path / 'pw'}",
        f"acl_file {tmp_path / 'acl'}",
        "max_packet_size 65536",
    ):
        assert line in lines


def test_password_file_add_update_remove(tmp_path: Path) -> None:
    pw = PasswordFile(tmp_path / "passwd")
    pw.set("a", "1")
    pw.set("b", "2")
    pw.set("a", "3")
    assert pw.users() == ["a", "b"]
    assert pw.verify("a", "3") and not pw.verify("a", "1")
    assert pw.remove("a") and not pw.remove("a")
    assert "a" not in pw and "b" in pw
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.iterdir()) == [tmp_path / "passwd"]  # no temporary file left behind


def test_password_file_keeps_every_concurrent_write(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    threads = [
        threading.Thread(target=lambda i=i: PasswordFile(path).set(f"user{i}", f"pw{i}")) for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(PasswordFile(path).users()) == sorted(f"user{i}" for i in range(16))


@pytest.mark.parametrize("bad", ["", "a:b", "a/b", "a+", "#", " a"])
def test_usernames_the_broker_cannot_match_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        PasswordFile(tmp_path / "passwd").set(bad, "x")


def test_the_cli_renders_a_company_broker_and_manages_users(tmp_path: Path) -> None:
    port = free_port()
    assert main(["render", "--company", "eflux", "--port", str(port), "--dir", str(tmp_path)]) == 0
    assert f"listener {port} 127.0.0.1" in (tmp_path / "mosquitto.conf").read_text()
    assert "recarga/v1/eflux/" in (tmp_path / "acl").read_text()
    assert main(["user", str(tmp_path / "passwd"), "v-1", "--password", "pw"]) == 0
    assert PasswordFile(tmp_path / "passwd").verify("v-1", "pw")
    assert main(["user", str(tmp_path / "passwd"), "v-1", "--remove"]) == 0
    assert main(["user", str(tmp_path / "passwd"), "v-1", "--remove"]) == 1


def test_the_cli_hash_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "--password", "abc"]) == 0
    assert verify_broker_password("abc", capsys.readouterr().out.strip())
