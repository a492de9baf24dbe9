"""compose.yaml for distinct hosts: one company per host and volume, health-gated start, restarts, and the
environment each server gets from a hosts file. Docker may be missing here: the file is checked as data,
interpolated as compose would, and its environment is fed to the server's own Settings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation.compose import SECRETS, compose
from federation.deploy import host_variable, read_hosts, write_secrets
from federation.launcher import LocalNetwork
from mosquitto import PasswordFile
from servers.settings import Settings
from servers.world.network import load_network
from vehicle_sim.config import load_endpoints

ROOT = Path(__file__).resolve().parents[2]
NETWORK = load_network()
IDS = [c.id for c in NETWORK.companies]
THREE_HOSTS = {"VOLTPOINT_HOST": "10.0.0.1", "EFLUX_HOST": "10.0.0.2", "ECOCHARGE_HOST": "10.0.0.3"}


def committed() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """`${VAR}`, `${VAR:-default}` and `$$`, as docker compose does with an env file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(3)
        return env.get(name) or (default if default is not None else "")

    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(:-([^}]*))?\}", one, value)


def with_profile(services: dict[str, Any], profile: str) -> set[str]:
    """What `docker compose --profile <profile> up` starts: services of that profile, and any without one."""
    return {name for name, s in services.items() if "profiles" not in s or profile in s["profiles"]}


def test_compose_yaml_is_the_one_generated_from_the_network_file() -> None:
    assert committed() == compose(NETWORK), "regenerate: python -m federation compose > compose.yaml"


def test_a_host_started_with_a_companys_profile_runs_that_company_only() -> None:
    services = committed()["services"]
    assert all("profiles" in s for s in services.values()), "a service without a profile starts on every host"
    for cid in IDS:
        assert with_profile(services, cid) == {f"config-{cid}", f"broker-{cid}", f"server-{cid}"}
    assert with_profile(services, "dashboards") == {"dashboards"}
    assert with_profile(services, "secrets") == {"secrets"}


def test_each_company_has_a_volume_of_its_own_and_sees_only_its_own_secrets() -> None:
    doc = committed()
    assert set(doc["volumes"]) == {f"recarga-{cid}" for cid in IDS}
    for cid in IDS:
        for name in with_profile(doc["services"], cid):
            mounts = doc["services"][name]["volumes"]
            named = {m.split(":")[0] for m in mounts if not m.startswith(".")}
            binds = {m.split(":")[0] for m in mounts if m.startswith(".")}
            assert named == {f"recarga-{cid}"}, name
            assert binds <= {f"./secrets/{cid}"}, name  # never another company's secrets


def test_every_long_running_service_is_health_checked_restarted_and_started_in_order() -> None:
    services = committed()["services"]
    for name, s in services.items():
        if name == "secrets" or name.startswith("config-"):
            assert s["restart"] == "no" and "healthcheck" not in s, name  # jobs run once
        else:
            assert s["restart"] == "unless-stopped", name
            assert s["healthcheck"]["test"][0] == "CMD" and s["healthcheck"]["retries"] > 0, name
    for cid in IDS:
        assert services[f"broker-{cid}"]["depends_on"] == {
            f"config-{cid}": {"condition": "service_completed_successfully"}}
        assert services[f"server-{cid}"]["depends_on"] == {
            f"config-{cid}": {"condition": "service_completed_successfully"},
            f"broker-{cid}": {"condition": "service_healthy"}}
        assert services[f"broker-{cid}"]["healthcheck"]["test"][1:5] == ["python", "-m", "mosquitto", "health"]
        assert services[f"server-{cid}"]["healthcheck"]["test"][1:5] == ["python", "-m", "servers", "health"]
    # The dashboards may run on a host without any server: their dependencies are not required there.
    assert all(d == {"condition": "service_healthy", "required": False}
               for d in services["dashboards"]["depends_on"].values())


def test_each_company_publishes_its_broker_and_server_on_the_network_files_ports() -> None:
    services = committed()["services"]
    for c in NETWORK.companies:
        assert services[f"broker-{c.id}"]["ports"] == [f"{c.broker_port}:{c.broker_port}"]
        assert services[f"server-{c.id}"]["ports"] == [f"{c.api_port}:{c.api_port}"]
        env = services[f"server-{c.id}"]["environment"]
        assert env["RECARGA_BROKER_HOST"] == f"broker-{c.id}"  # its own host's broker, over MQTT only
        assert not any("PASSWORD_FILE" in k or "PID" in k for k in env)  # nothing of the broker's process


@pytest.mark.parametrize("hosts", [THREE_HOSTS, {}], ids=["three-hosts", "one-machine"])
def test_the_environment_a_server_gets_is_one_its_settings_accept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hosts: dict[str, str]) -> None:
    services = interpolate(committed()["services"], hosts)
    write_secrets(tmp_path, NETWORK, read_hosts(NETWORK, environ=hosts))
    for c in NETWORK.companies:
        env = services[f"server-{c.id}"]["environment"]
        expected = {o.id: f"http://{hosts.get(host_variable(o.id), f'server-{o.id}')}:{o.api_port}"
                    for o in NETWORK.companies if o.id != c.id}
        assert json.loads(env["RECARGA_PEERS"]) == expected
        for key in list(env):  # the container's paths of its secrets → this test's copy of them
            env[key] = env[key].replace(SECRETS, str(tmp_path / c.id))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()  # type: ignore[call-arg]  # all from the environment, as in the container
        assert settings.company == c.id and settings.port == c.api_port and settings.host == "0.0.0.0"
        assert settings.peer_addresses(NETWORK) == expected
        assert set(settings.peer_secrets) == {k for k in settings.peer_secrets if c.id in k.split(":")}
        assert len(settings.peer_secrets) == len(IDS) - 1 and len(settings.broker_key) >= 16


def test_secrets_are_split_per_company_kept_on_a_second_run_and_clients_json_names_the_hosts(tmp_path: Path) -> None:
    hosts = read_hosts(NETWORK, environ=THREE_HOSTS)
    write_secrets(tmp_path, NETWORK, hosts)
    first = {p: p.read_text() for p in tmp_path.rglob("*.json")}
    pairs = {cid: json.loads((tmp_path / cid / "peer-secrets.json").read_text()) for cid in IDS}
    for cid in IDS:
        assert all(cid in key.split(":") for key in pairs[cid])
        assert list(json.loads((tmp_path / cid / "service-logins.json").read_text())) == [cid]
        assert (tmp_path / cid / "service-logins.json").stat().st_mode & 0o077 == 0
    assert pairs["voltpoint"]["eflux:voltpoint"] == pairs["eflux"]["eflux:voltpoint"]
    write_secrets(tmp_path, NETWORK, hosts)
    assert {p: p.read_text() for p in tmp_path.rglob("*.json")} == first  # nothing rotated under running hosts
    endpoints = load_endpoints(tmp_path / "clients.json")  # what a vehicle on any other host reads
    for c in NETWORK.companies:
        address = THREE_HOSTS[host_variable(c.id)]
        assert endpoints[c.id].api == f"http://{address}:{c.api_port}"
        assert (endpoints[c.id].broker_host, endpoints[c.id].broker_port) == (address, c.broker_port)


def test_the_hosts_file_is_the_env_file_given_to_compose(tmp_path: Path) -> None:
    env_file = tmp_path / "hosts.env"
    env_file.write_text("# the three hosts\nVOLTPOINT_HOST=10.0.0.1\nEFLUX_HOST='10.0.0.2'\n")
    assert read_hosts(NETWORK, env_file, environ={}) == {"voltpoint": "10.0.0.1", "eflux": "10.0.0.2",
                                                         "ecocharge": "127.0.0.1"}


@pytest.mark.integration
def test_the_config_job_writes_one_companys_broker_with_the_plugin(tmp_path: Path) -> None:
    write_secrets(tmp_path / "secrets", NETWORK, read_hosts(NETWORK, environ={}))
    done = subprocess.run([sys.executable, "-m", "federation", "config", "--company", "eflux", "--run-dir",
                           str(tmp_path / "run"), "--secrets-dir", str(tmp_path / "secrets" / "eflux"),
                           "--containers"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    broker = tmp_path / "run" / "brokers" / "eflux"
    assert [p.name for p in (tmp_path / "run" / "brokers").iterdir()] == ["eflux"]
    conf = (broker / "mosquitto.conf").read_text().splitlines()
    port = NETWORK.company("eflux").broker_port
    assert f"listener {port} 0.0.0.0" in conf
    assert any(line.startswith("plugin ") and line.endswith("mosquitto_dynamic_security.so") for line in conf)
    assert f"plugin_opt_config_file {broker / 'dynamic-security.json'}" in conf
    assert json.loads((broker / "dynamic-security.json").read_text())["clients"] == []
    assert sorted(PasswordFile(broker / "passwd").users()) == ["dashboard", "server", "signup"]
    missing = subprocess.run([sys.executable, "-m", "federation", "config", "--company", "eflux", "--run-dir",
                              str(tmp_path / "run2"), "--secrets-dir", str(tmp_path / "nowhere")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "federation secrets" in missing.stderr


def test_the_servers_get_the_same_settings_and_command_as_from_the_launcher(tmp_path: Path) -> None:
    services = committed()["services"]
    net = LocalNetwork(tmp_path)
    net.prepare()
    for cid in net.companies:
        launched = set(net.server_settings(cid))
        contained = set(services[f"server-{cid}"]["environment"])
        assert contained <= launched
        assert launched - contained <= {"RECARGA_MQTT", "RECARGA_BROKER_USERNAME"}
        assert services[f"server-{cid}"]["command"][1:] == ["-m", "servers", "serve", "--company", cid]


@pytest.fixture
def health_endpoint() -> Iterator[tuple[str, list[int]]]:
    """A stand-in server whose /api/v1/health answers the status at the head of the list."""
    statuses = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses[0] if self.path == "/api/v1/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", statuses
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.integration
def test_the_servers_health_check_passes_on_200_only(health_endpoint: tuple[str, list[int]]) -> None:
    url, statuses = health_endpoint

    def check() -> int:
        return subprocess.run([sys.executable, "-m", "servers", "health", "--url", url], cwd=ROOT,
                              capture_output=True, timeout=60).returncode

    assert check() == 0
    statuses[0] = 503
    assert check() == 1
