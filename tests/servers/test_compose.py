"""compose.yaml runs the same processes as the launcher, with the addresses of the network file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from servers.compose import compose
from servers.core.network import load_network
from servers.launcher import LocalNetwork

ROOT = Path(__file__).resolve().parents[2]


def committed() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_yaml_is_the_one_generated_from_the_network_file():
    assert committed() == compose(load_network()), "regenerate: python -m servers compose > compose.yaml"


def test_every_company_has_a_broker_and_a_server_on_the_network_files_ports():
    services = committed()["services"]
    network = load_network()
    for c in network.companies:
        broker, server = services[f"broker-{c.id}"], services[f"server-{c.id}"]
        assert broker["ports"] == [f"{c.broker_port}:{c.broker_port}"]
        assert server["ports"] == [f"{c.api_port}:{c.api_port}"]
        env = server["environment"]
        assert env["RECARGA_COMPANY"] == c.id and env["RECARGA_PORT"] == str(c.api_port)
        assert env["RECARGA_BROKER_HOST"] == f"broker-{c.id}" and env["RECARGA_BROKER_PORT"] == str(c.broker_port)
        peers = json.loads(env["RECARGA_PEERS"])
        assert peers == {o.id: f"http://server-{o.id}:{o.api_port}" for o in network.companies if o.id != c.id}
    assert {"config", "dashboards"} <= set(services)
    assert len(services) == 2 + 2 * len(network.companies)


def test_the_servers_get_the_same_settings_and_command_as_from_the_launcher(tmp_path):
    services = committed()["services"]
    net = LocalNetwork(tmp_path)
    net.prepare()
    for cid in net.companies:
        launched = set(net.server_settings(cid))
        contained = set(services[f"server-{cid}"]["environment"])
        # Containers add where to listen and where their broker is; on one machine both are loopback defaults.
        assert contained - {"RECARGA_HOST", "RECARGA_BROKER_HOST"} <= launched
        assert launched - contained <= {"RECARGA_MQTT", "RECARGA_BROKER_USERNAME"}
        assert services[f"server-{cid}"]["command"][1:] == ["-m", "servers", "serve", "--company", cid]
