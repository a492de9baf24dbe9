"""`compose.yaml`, generated from the network file: one company per host, or all of them on one.

    python -m federation compose > compose.yaml

Per company C, under the profile C: a `config-C` job (its broker's files,
from `./secrets/C`), `broker-C` and `server-C`, all on the volume
`recarga-C` (event log, broker data, the plugin's logins) and nothing
shared with another company. The server manages vehicles' broker logins
over MQTT (the dynamic-security plugin), so it shares no process or file
with its broker. Peers are reached at `${C_HOST}` (from the env file given
to `docker compose --env-file`), or at the service name when all companies
run in one project. Health checks gate `depends_on`; brokers, servers and
the dashboards restart unless stopped. The profile `secrets` makes
`./secrets` (`federation secrets`); the profile `dashboards` runs the Streamlit
app on the host's network, reading `./secrets/clients.json`.
"""

from __future__ import annotations

import json
from typing import Any

from federation.deploy import CLIENTS, PEER_SECRETS, SERVICE_LOGINS, host_variable
from servers.world.network import Network

RUN = "/run/recarga"
SECRETS = "/run/recarga-secrets"
IMAGE = "recarga:latest"
RESTART = "unless-stopped"


def server_command(company: str) -> list[str]:
    """The server's command line, the same as the launcher's."""
    return ["python", "-m", "servers", "serve", "--company", company]


def host_of(company: str) -> str:
    """A company's address as compose interpolates it: `${C_HOST}`, else its server's service name."""
    return f"${{{host_variable(company)}:-server-{company}}}"


def _health(test: list[str]) -> dict[str, Any]:
    return {"test": test, "interval": "5s", "timeout": "3s", "retries": 5, "start_period": "20s"}


def compose(network: Network, dashboard_port: int = 8501) -> dict[str, Any]:
    """The compose document for `network`."""
    services: dict[str, Any] = {
        "secrets": {
            "image": IMAGE, "build": ".", "profiles": ["secrets"], "restart": "no",
            "volumes": ["./secrets:/secrets"],
            "environment": {host_variable(c.id): f"${{{host_variable(c.id)}:-127.0.0.1}}"
                            for c in network.companies},
            "command": ["python", "-m", "federation", "secrets", "--out", "/secrets"],
        },
    }
    volumes: dict[str, Any] = {}
    for c in network.companies:
        volume, secrets = f"recarga-{c.id}", f"./secrets/{c.id}:{SECRETS}:ro"
        volumes[volume] = {}

        def mounts(*extra: str, volume: str = volume) -> list[str]:
            return [f"{volume}:{RUN}", *extra]  # a fresh list each time, so the YAML has no anchors

        services[f"config-{c.id}"] = {
            "image": IMAGE, "build": ".", "profiles": [c.id], "restart": "no", "volumes": mounts(secrets),
            "command": ["python", "-m", "federation", "config", "--company", c.id, "--run-dir", RUN,
                        "--secrets-dir", SECRETS, "--containers"],
        }
        services[f"broker-{c.id}"] = {
            "image": IMAGE, "profiles": [c.id], "restart": RESTART, "volumes": mounts(),
            "depends_on": {f"config-{c.id}": {"condition": "service_completed_successfully"}},
            "command": ["mosquitto", "-c", f"{RUN}/brokers/{c.id}/mosquitto.conf"],
            "ports": [f"{c.broker_port}:{c.broker_port}"],
            "healthcheck": _health(["CMD", "python", "-m", "mosquitto", "health", "--port", str(c.broker_port)]),
        }
        peers = {o.id: f"http://{host_of(o.id)}:{o.api_port}" for o in network.companies if o.id != c.id}
        services[f"server-{c.id}"] = {
            "image": IMAGE, "profiles": [c.id], "restart": RESTART, "volumes": mounts(secrets),
            "depends_on": {f"config-{c.id}": {"condition": "service_completed_successfully"},
                           f"broker-{c.id}": {"condition": "service_healthy"}},
            "command": server_command(c.id),
            "ports": [f"{c.api_port}:{c.api_port}"],
            "healthcheck": _health(["CMD", "python", "-m", "servers", "health", "--url",
                                    f"http://127.0.0.1:{c.api_port}"]),
            "environment": {
                "RECARGA_COMPANY": c.id,
                "RECARGA_HOST": "0.0.0.0",
                "RECARGA_PORT": str(c.api_port),
                "RECARGA_DATA_DIR": f"{RUN}/data",
                "RECARGA_PEERS": json.dumps(peers, sort_keys=True),
                "RECARGA_PEER_SECRETS_FILE": f"{SECRETS}/{PEER_SECRETS}",
                "RECARGA_SERVICE_LOGINS_FILE": f"{SECRETS}/{SERVICE_LOGINS}",
                "RECARGA_BROKER_HOST": f"broker-{c.id}",
                "RECARGA_BROKER_PORT": str(c.broker_port),
            },
        }
    services["dashboards"] = {
        "image": IMAGE, "profiles": ["dashboards"], "restart": RESTART,
        # The host's network: it reaches every company at the addresses of clients.json, as a vehicle would.
        "network_mode": "host",
        "volumes": [f"./secrets/{CLIENTS}:{SECRETS}/{CLIENTS}:ro"],
        "depends_on": {f"server-{c.id}": {"condition": "service_healthy", "required": False}
                       for c in network.companies},
        "command": ["python", "-m", "streamlit", "run", "dashboards/streamlit_app.py", "--server.headless", "true",
                    "--server.address", "0.0.0.0", "--server.port", str(dashboard_port)],
        "environment": {"RECARGA_CLIENTS_FILE": f"{SECRETS}/{CLIENTS}"},
        "healthcheck": _health(["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen("
                                f"'http://127.0.0.1:{dashboard_port}/_stcore/health', timeout=3)"]),
    }
    return {"name": "recarga", "services": services, "volumes": volumes}
