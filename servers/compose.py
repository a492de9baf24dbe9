"""`compose.yaml`, generated from the network file: the same processes as `python -m servers up`, as containers.

    python -m servers compose > compose.yaml

One `config` job writes configs and credentials into a shared volume (the
launcher's `prepare`, with container host names); then per company a broker
and a server, and the dashboards. A company's server shares its broker's PID
namespace so that it can SIGHUP the broker after writing a vehicle's login,
as it does on one machine. Addresses come from the environment, so a company
can run on a host of its own by overriding RECARGA_PEERS.
"""

from __future__ import annotations

import json
from typing import Any

from servers.core.network import Network

RUN = "/run/recarga"
IMAGE = "recarga:latest"


def server_command(company: str) -> list[str]:
    """The server's command line, the same as the launcher's."""
    return ["python", "-m", "servers", "serve", "--company", company]


def compose(network: Network, dashboard_port: int = 8501) -> dict[str, Any]:
    """The compose document for `network`."""
    def volume() -> dict[str, Any]:  # a fresh list each time, so the YAML has no anchors
        return {"volumes": [f"recarga-run:{RUN}"]}

    services: dict[str, Any] = {
        "config": {"image": IMAGE, "build": ".", **volume(),
                   "command": ["python", "-m", "servers", "config", "--run-dir", RUN, "--containers"]},
    }
    for c in network.companies:
        broker_dir = f"{RUN}/brokers/{c.id}"
        services[f"broker-{c.id}"] = {
            "image": IMAGE, **volume(),
            "depends_on": {"config": {"condition": "service_completed_successfully"}},
            "command": ["sh", "-c", f"echo $$$$ > {broker_dir}/mosquitto.pid && exec mosquitto -c "
                                    f"{broker_dir}/mosquitto.conf"],
            "ports": [f"{c.broker_port}:{c.broker_port}"],
        }
        peers = {o.id: f"http://server-{o.id}:{o.api_port}" for o in network.companies if o.id != c.id}
        services[f"server-{c.id}"] = {
            "image": IMAGE, **volume(),
            "depends_on": [f"broker-{c.id}"],
            "pid": f"service:broker-{c.id}",
            "command": server_command(c.id),
            "ports": [f"{c.api_port}:{c.api_port}"],
            "environment": {
                "RECARGA_COMPANY": c.id,
                "RECARGA_HOST": "0.0.0.0",
                "RECARGA_PORT": str(c.api_port),
                "RECARGA_DATA_DIR": f"{RUN}/data",
                "RECARGA_PEERS": json.dumps(peers, sort_keys=True),
                "RECARGA_PEER_SECRETS_FILE": f"{RUN}/peer-secrets.json",
                "RECARGA_SERVICE_LOGINS_FILE": f"{RUN}/service-logins.json",
                "RECARGA_BROKER_HOST": f"broker-{c.id}",
                "RECARGA_BROKER_PORT": str(c.broker_port),
                "RECARGA_BROKER_PASSWORD_FILE": f"{broker_dir}/passwd",
                "RECARGA_BROKER_PID_FILE": f"{broker_dir}/mosquitto.pid",
            },
        }
    services["dashboards"] = {
        "image": IMAGE, **volume(),
        "depends_on": [f"server-{c.id}" for c in network.companies],
        "command": ["python", "-m", "streamlit", "run", "dashboards/streamlit_app.py", "--server.headless", "true",
                    "--server.address", "0.0.0.0", "--server.port", str(dashboard_port)],
        "environment": {"RECARGA_CLIENTS_FILE": f"{RUN}/clients.json"},
        "ports": [f"{dashboard_port}:{dashboard_port}"],
    }
    return {"name": "recarga", "services": services, "volumes": {"recarga-run": {}}}
