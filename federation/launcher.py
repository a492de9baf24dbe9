"""The whole network on one machine: a Mosquitto and a server per company, and the dashboards.

`LocalNetwork` is used by `python -m federation up` (the README's `make run`)
and by the integration tests (free ports, a temporary run directory). It
writes generated configs and credentials into the run directory, including
`clients.json`: what a third-party client needs to reach each company.

Each company runs on a `Host`: 127.0.0.1 by default; the multi-host tests give
every company an address of its own and a command prefix that starts its
processes in its own network namespace (`tests/multihost`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contract.clients import ClientsFile
from events.location import open_store
from events.model import RecordedEvent
from federation.compose import server_command
from federation.deploy import SIGNUP_PASSWORD, client_entry, new_peer_secrets, new_service_logins, write_broker_files
from federation.invariants import Violation, check
from mosquitto import SERVICE_USER, BrokerProcess, free_port
from servers.world.network import Network, load_network

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["SIGNUP_PASSWORD", "CompanyProcesses", "Host", "LocalNetwork"]


@dataclass(frozen=True)
class Host:
    """Where one company's broker and server run: the address they listen on, and how to start a process there."""

    address: str = "127.0.0.1"
    exec_prefix: tuple[str, ...] = ()  # e.g. ("ip", "netns", "exec", "ns-voltpoint"); it must exec the command


@dataclass
class CompanyProcesses:
    """One company's broker and server, and where they listen."""

    company: str
    api_port: int
    broker_port: int
    host: Host = field(default_factory=Host)
    broker: BrokerProcess | None = None
    server: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host.address}:{self.api_port}"

    @property
    def broker_host(self) -> str:
        return self.host.address


@dataclass
class LocalNetwork:
    """Start, watch, stop, kill and restart the processes of a local network."""

    run_dir: Path
    network_file: Path | None = None
    free_ports: bool = False
    mqtt: bool = True
    dashboards: bool = False
    dashboard_port: int = 8501
    bind: str = "127.0.0.1"  # brokers' listen address
    env: dict[str, str] = field(default_factory=dict)  # extra RECARGA_* settings for every server
    log_paths: dict[str, Path] = field(default_factory=dict)  # a company's log elsewhere than run/data
    log_urls: dict[str, str] = field(default_factory=dict)  # a company's log in a database: postgresql://…
    hosts: dict[str, Host] = field(default_factory=dict)  # a company elsewhere than 127.0.0.1
    # How one company reaches another, when not at its api_url: {from: {to: url}} (e.g. through a delay proxy).
    peer_urls: dict[str, dict[str, str]] = field(default_factory=dict)
    companies: dict[str, CompanyProcesses] = field(default_factory=dict)
    dashboard: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir).resolve()
        self.network: Network = load_network(self.network_file)
        for c in self.network.companies:
            api, broker = (free_port(), free_port()) if self.free_ports else (c.api_port, c.broker_port)
            self.companies[c.id] = CompanyProcesses(c.id, api, broker, self.hosts.get(c.id, Host()))

    # -- generated configuration ----------------------------------------------------------------
    def _secret_file(self, name: str, make: Any) -> Any:
        path = self.run_dir / name
        if path.exists():
            return json.loads(path.read_text())
        value = make()
        path.write_text(json.dumps(value, indent=2))
        path.chmod(0o600)
        return value

    def prepare(self) -> None:
        """Write peer secrets, broker logins, ACLs and the clients' file (kept across runs)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ids = [c.id for c in self.network.companies]
        self.peer_secrets: dict[str, str] = self._secret_file("peer-secrets.json", lambda: new_peer_secrets(ids))
        self.service_passwords: dict[str, dict[str, str]] = self._secret_file(
            "service-logins.json", lambda: {c: new_service_logins() for c in ids})
        for cid, proc in self.companies.items():
            broker_dir = self.run_dir / "brokers" / cid
            broker_dir.mkdir(parents=True, exist_ok=True)
            bind = proc.host.address if cid in self.hosts else self.bind
            proc.broker = BrokerProcess(broker_dir, proc.broker_port, bind=bind, host=proc.host.address,
                                        dynsec=True, command_prefix=proc.host.exec_prefix)
            # The fixed accounts in files written once; vehicles in the dynamic-security plugin, at run time.
            write_broker_files(proc.broker, cid, self.service_passwords[cid])
        self.clients_file.write_text(self.clients().to_json())

    @property
    def clients_file(self) -> Path:
        """What clients (vehicle simulator, dashboards) read to find each company."""
        return self.run_dir / "clients.json"

    def clients(self) -> ClientsFile:
        """Where each company's server and broker are, and the public logins a client starts with."""
        return ClientsFile(companies={cid: client_entry(p.api_url, p.broker_host, p.broker_port,
                                                        self.service_passwords[cid]["dashboard"])
                                      for cid, p in self.companies.items()})

    def server_settings(self, cid: str) -> dict[str, str]:
        """The RECARGA_* settings the launcher gives one company's server (compose.yaml mirrors them)."""
        proc = self.companies[cid]
        settings = {
            "RECARGA_COMPANY": cid, "RECARGA_HOST": proc.host.address, "RECARGA_PORT": str(proc.api_port),
            "RECARGA_DATA_DIR": str(self.run_dir / "data"),
            "RECARGA_PEERS": json.dumps({c: self.peer_urls.get(cid, {}).get(c, p.api_url)
                                         for c, p in self.companies.items() if c != cid}),
            "RECARGA_PEER_SECRETS_FILE": str(self.run_dir / "peer-secrets.json"),
            "RECARGA_MQTT": "true" if self.mqtt else "false",
            "RECARGA_BROKER_HOST": proc.broker_host,
            "RECARGA_BROKER_PORT": str(proc.broker_port),
            "RECARGA_SERVICE_LOGINS_FILE": str(self.run_dir / "service-logins.json"),
            "RECARGA_BROKER_USERNAME": SERVICE_USER,
        }
        if self.network_file is not None:
            settings["RECARGA_NETWORK_FILE"] = str(self.network_file)
        if cid in self.log_urls:
            settings["RECARGA_LOG_URL"] = self.log_urls[cid]
        elif cid in self.log_paths:
            settings["RECARGA_LOG_PATH"] = str(self.log_paths[cid])
        return settings

    def server_env(self, cid: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of one company's server process: ours, then the launcher's settings."""
        return {**os.environ, **self.env, **self.server_settings(cid), "PYTHONUNBUFFERED": "1", **(extra or {})}

    # -- processes ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Start every broker, then every server, then the dashboards; wait until each is healthy.

        If any part fails to come up, what did start is stopped before the error goes on: a failed
        start leaves no process behind, so callers need no cleanup of their own for it.
        """
        try:
            self.prepare()
            if self.mqtt:
                for cid in self.companies:
                    self.start_broker(cid)
            for cid in self.companies:
                self.start_server(cid, wait=False)
            for cid in self.companies:
                self.wait_healthy(cid, timeout)
            if self.dashboards:
                self.start_dashboards()
        except BaseException:
            self.stop()
            raise

    def start_broker(self, cid: str) -> None:
        proc = self.companies[cid]
        assert proc.broker is not None
        proc.broker.start()

    def start_server(self, cid: str, *, wait: bool = True, timeout: float = 30.0,
                     extra_env: dict[str, str] | None = None) -> None:
        proc = self.companies[cid]
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        proc.log_path = logs / f"{cid}.log"
        with open(proc.log_path, "ab") as out:
            proc.server = subprocess.Popen([*proc.host.exec_prefix, sys.executable, *server_command(cid)[1:]],
                                           cwd=ROOT, env=self.server_env(cid, extra_env), stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT)
        if wait:
            self.wait_healthy(cid, timeout)

    def wait_healthy(self, cid: str, timeout: float = 30.0) -> None:
        """Return when the server answers /api/v1/health; raise with its log tail otherwise."""
        proc = self.companies[cid]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.server is not None and proc.server.poll() is not None:
                break
            try:
                if httpx.get(proc.api_url + "/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = proc.log_path.read_text()[-3000:] if proc.log_path and proc.log_path.exists() else ""
        raise RuntimeError(f"server {cid} did not become healthy on {proc.api_url}:\n{tail}")

    def start_dashboards(self) -> None:
        app = ROOT / "dashboards" / "streamlit_app.py"
        if not app.exists():
            return
        env = {**os.environ, "RECARGA_CLIENTS_FILE": str(self.clients_file)}
        with open(self.run_dir / "logs" / "dashboards.log", "ab") as out:
            self.dashboard = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(self.dashboard_port),
                 "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def kill_server(self, cid: str, sig: int = signal.SIGKILL) -> None:
        """Signal one server (SIGKILL by default) and reap it."""
        proc = self.companies[cid].server
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop everything (servers first, so they can say offline)."""
        procs = [p.server for p in self.companies.values()] + [self.dashboard]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for p in self.companies.values():
            if p.broker is not None:
                p.broker.stop()

    def __enter__(self) -> LocalNetwork:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the logs --------------------------------------------------------------------------------
    def log_path(self, cid: str) -> Path:
        """Where one company's event log file is (when its log is a file)."""
        return self.log_paths.get(cid, self.run_dir / "data" / f"{cid}.db")

    def log_location(self, cid: str) -> str:
        """Where one company's event log is: its database URL, else its file."""
        return self.log_urls.get(cid) or str(self.log_path(cid))

    def read_logs(self) -> dict[str, list[RecordedEvent]]:
        """Every company's events, read straight from its file or database (works while a server is down)."""
        logs = {}
        for cid in self.companies:
            with open_store(self.log_location(cid), create=False) as store:
                logs[cid] = list(store.iter_all())
        return logs

    def settle(self, timeout: float = 30.0) -> tuple[list[Violation], float]:
        """Poll the invariant checker (every decision delivered) until clean or `timeout`: (violations, s)."""
        start = time.monotonic()
        while True:
            violations = check(self.read_logs(), converged=True)
            elapsed = time.monotonic() - start
            if not violations or elapsed > timeout:
                return violations, elapsed
            time.sleep(0.3)

    def addresses(self) -> list[str]:
        """One line per address, for people."""
        lines = []
        for cid, p in self.companies.items():
            name = self.network.company(cid).name
            lines.append(f"{name:<10} server  {p.api_url}  (OpenAPI: {p.api_url}/docs)")
            if self.mqtt:
                lines.append(f"{name:<10} broker  mqtt://{p.broker_host}:{p.broker_port}")
        if self.dashboard is not None:
            lines.append(f"dashboards        http://127.0.0.1:{self.dashboard_port}")
        return lines
