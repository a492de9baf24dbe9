"""Companies on distinct hosts: secrets made once and split per company, one company's broker files, clients.json.

    python -m federation secrets --out secrets [--hosts-file hosts.env]
        secrets/<company>/peer-secrets.json     the pair secrets this company shares (only its own pairs)
        secrets/<company>/service-logins.json   its broker logins, operator token and broker key
        secrets/clients.json                    where every company is, for vehicles and dashboards anywhere

    python -m federation config --company voltpoint --secrets-dir secrets/voltpoint --run-dir /run/recarga --containers
        the broker's config, fixed logins, ACL and dynamic-security file for that company only

Host addresses come from `<COMPANY>_HOST` variables (e.g. `VOLTPOINT_HOST`),
in a hosts file (the one given to `docker compose --env-file`) or in the
environment; a company without one is at 127.0.0.1. Secrets already written
are kept: running it again never rotates what running hosts share.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contract.clients import SIGNUP_LOGIN, ClientsFile, CompanyAddress, Login
from mosquitto import DASHBOARD_USER, SERVICE_USER, SIGNUP_USER, AclFile, BrokerProcess, PasswordFile
from servers.peer_auth import pair_key
from servers.world.network import Network

SIGNUP_PASSWORD = SIGNUP_LOGIN.password
PEER_SECRETS = "peer-secrets.json"
SERVICE_LOGINS = "service-logins.json"
CLIENTS = "clients.json"


def host_variable(company: str) -> str:
    """The variable that holds a company's host address: `VOLTPOINT_HOST` for `voltpoint`."""
    return company.upper().replace("-", "_") + "_HOST"


def read_hosts(network: Network, hosts_file: Path | None = None,
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each company's host address: from `hosts_file` (KEY=VALUE lines), else the environment, else 127.0.0.1."""
    values: dict[str, str] = dict(os.environ if environ is None else environ)
    if hosts_file is not None:
        for line in hosts_file.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return {c.id: values.get(host_variable(c.id)) or "127.0.0.1" for c in network.companies}


def new_service_logins() -> dict[str, str]:
    """One company's fixed secrets: its server's and dashboards' broker logins, operator token, broker key."""
    return {"server": secrets.token_urlsafe(18), "dashboard": secrets.token_urlsafe(12),
            "operator": secrets.token_urlsafe(18), "broker_key": secrets.token_urlsafe(32)}


def new_peer_secrets(companies: list[str]) -> dict[str, str]:
    """A secret for every pair of companies."""
    return {pair_key(a, b): secrets.token_hex(32) for i, a in enumerate(companies) for b in companies[i + 1:]}


def client_entry(api: str, broker_host: str, broker_port: int, dashboard_password: str) -> CompanyAddress:
    """One company in clients.json: where its server and broker are, and the public logins a client starts with."""
    return CompanyAddress(api=api, broker_host=broker_host, broker_port=broker_port,
                          signup=Login(username=SIGNUP_USER, password=SIGNUP_PASSWORD),
                          dashboard=Login(username=DASHBOARD_USER, password=dashboard_password))


def _write_json(path: Path, value: Any, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True))
    tmp.chmod(mode)
    os.replace(tmp, path)


def write_secrets(out: Path, network: Network, hosts: Mapping[str, str]) -> list[Path]:
    """Write (or complete) the per-company secrets and clients.json under `out`; the paths written."""
    ids = [c.id for c in network.companies]
    pairs: dict[str, str] = {}
    logins: dict[str, dict[str, str]] = {}
    for cid in ids:  # what exists is kept, so hosts already running keep matching secrets
        with_peers, with_logins = out / cid / PEER_SECRETS, out / cid / SERVICE_LOGINS
        if with_peers.exists():
            pairs.update(json.loads(with_peers.read_text()))
        if with_logins.exists():
            logins.update(json.loads(with_logins.read_text()))
    pairs = {**new_peer_secrets(ids), **pairs}
    written = []
    for cid in ids:
        logins.setdefault(cid, new_service_logins())
        mine = {k: v for k, v in pairs.items() if cid in k.split(":")}
        _write_json(out / cid / PEER_SECRETS, mine, 0o600)
        _write_json(out / cid / SERVICE_LOGINS, {cid: logins[cid]}, 0o600)
        written += [out / cid / PEER_SECRETS, out / cid / SERVICE_LOGINS]
    clients = ClientsFile(companies={c.id: client_entry(f"http://{hosts[c.id]}:{c.api_port}", hosts[c.id],
                                                        c.broker_port, logins[c.id]["dashboard"])
                                     for c in network.companies})
    _write_json(out / CLIENTS, clients.model_dump(), 0o644)
    return [*written, out / CLIENTS]


def write_broker_files(broker: BrokerProcess, company: str, logins: Mapping[str, str]) -> None:
    """A company broker's files: the fixed logins, the ACL (vehicles in the plugin), the config."""
    PasswordFile(broker.password_file).set_many(
        {SERVICE_USER: logins["server"], DASHBOARD_USER: logins["dashboard"], SIGNUP_USER: SIGNUP_PASSWORD})
    AclFile(company, dynsec=True).write(broker.acl_file)
    broker.write_config()


def write_company(run_dir: Path, network: Network, company: str, secrets_dir: Path, bind: str) -> BrokerProcess:
    """Everything one company's host needs on disk before its broker starts, from its secrets directory."""
    try:
        logins = json.loads((secrets_dir / SERVICE_LOGINS).read_text())[company]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"no logins of {company!r} in {secrets_dir / SERVICE_LOGINS} ({exc}); write them with "
                         "`python -m federation secrets --out DIR` and copy DIR/<company> to this host") from exc
    broker_dir = run_dir / "brokers" / company
    broker_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "data").mkdir(parents=True, exist_ok=True)
    broker = BrokerProcess(broker_dir, network.company(company).broker_port, bind=bind, dynsec=True)
    write_broker_files(broker, company, logins)
    return broker
