"""A company server's settings: the network file, then environment (`RECARGA_…`), then flags; fails fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.errors import BadLogLocation
from events.location import LogLocation, parse_location
from servers.world.network import Network, load_network


class Settings(BaseSettings):
    """Everything one server needs to run; addresses come from here, never from code."""

    model_config = SettingsConfigDict(env_prefix="RECARGA_", extra="forbid")

    company: str = Field(description="this server's company id in the network file")
    network_file: Path | None = Field(default=None, description="the network description (default: packaged)")
    data_dir: Path = Field(default=Path("run/data"), description="where the event log lives")
    log_path: Path | None = Field(default=None, description="the event log file (default: DATA_DIR/COMPANY.db)")
    log_url: str | None = Field(default=None, description="the event log elsewhere than a file of DATA_DIR: a file "
                                "path, or postgresql://user@host:port/database (docs/scaling.md)")
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535, description="default: the company's api_port")
    peers: dict[str, str] = Field(default_factory=dict,
                                  description="company id -> base URL; default http://127.0.0.1:{api_port}")
    peer_host: str = Field(default="127.0.0.1", description="host of peers not listed in `peers`")
    peer_secrets_file: Path | None = Field(default=None, description="JSON {'a:b': secret} per company pair")
    peer_secrets: dict[str, str] = Field(default_factory=dict)
    peer_timeout_s: float = Field(default=5.0, gt=0)
    token_ttl_s: float = Field(default=12 * 3600, gt=0, description="how long a login token is valid")
    hold_timeout_s: float = Field(default=30.0, gt=0, description="undecided hold: ask the coordinator after")
    stale_trip_s: float = Field(default=20.0, gt=0, description="undecided trip nobody works on: abort after")
    broker_key: str = Field(default="", description="secret from which vehicles' broker passwords are derived")
    operator_token: str = Field(default="", description="the company operator's token; empty disables operator routes")
    tick_s: float = Field(default=1.0, gt=0, description="period of the recovery loop")
    priority_rule: bool = Field(default=True, description="a trip that asked earlier makes later, undecided holds "
                                "in its way yield (off: first come, first served at each point; for benchmarks)")
    mqtt: bool = Field(default=True, description="run the MQTT gateway")
    broker_host: str = Field(default="127.0.0.1", description="the company's broker (may be another host)")
    broker_port: int | None = Field(default=None, ge=1, le=65535, description="default: the company's broker_port")
    broker_username: str = Field(default="server", description="the server's broker login; it also manages the "
                                 "vehicles' logins through the broker's dynamic-security plugin")
    broker_password: str = ""
    service_logins_file: Path | None = Field(default=None, description="JSON {company: {server, operator}} from "
                                             "`python -m federation config`; fills broker_password, operator_token")

    @model_validator(mode="after")
    def _check_log(self) -> Settings:
        if self.log_url is not None and self.log_path is not None:
            raise ValueError("give the event log as RECARGA_LOG_URL or RECARGA_LOG_PATH, not both")
        if self.log_url is not None:
            try:
                parse_location(self.log_url)
            except BadLogLocation as exc:
                raise ValueError(f"RECARGA_LOG_URL {exc}") from None
        return self

    @model_validator(mode="after")
    def _load_secrets(self) -> Settings:
        if self.peer_secrets_file is not None and not self.peer_secrets:
            try:
                self.peer_secrets = {str(k): str(v) for k, v in
                                     json.loads(self.peer_secrets_file.read_text()).items()}
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read peer secrets from {self.peer_secrets_file}: {exc}") from exc
        if self.service_logins_file is not None:
            try:
                mine = json.loads(self.service_logins_file.read_text())[self.company]
            except (OSError, ValueError, KeyError) as exc:
                raise ValueError(f"cannot read {self.company}'s logins from {self.service_logins_file}: {exc}") from exc
            self.broker_password = self.broker_password or str(mine["server"])
            self.operator_token = self.operator_token or str(mine.get("operator", ""))
            self.broker_key = self.broker_key or str(mine.get("broker_key", ""))
        if len(self.broker_key) < 16:
            raise ValueError("a broker key of at least 16 characters is required (RECARGA_BROKER_KEY, or "
                             "`broker_key` in the service logins file written by `python -m federation config`)")
        return self

    def network(self) -> Network:
        """The network, checked to contain this company."""
        network = load_network(self.network_file)
        try:
            network.company(self.company)
        except KeyError:
            known = ", ".join(c.id for c in network.companies)
            raise ValueError(f"unknown company {self.company!r}; the network has {known}") from None
        return network

    def resolved_log_path(self) -> Path:
        """Where this company's log file is, when it is a file."""
        return self.log_path or self.data_dir / f"{self.company}.db"

    def log_location(self) -> LogLocation:
        """Where this company's log is: RECARGA_LOG_URL, else the file (RECARGA_LOG_PATH or DATA_DIR/COMPANY.db)."""
        return parse_location(self.log_url or self.resolved_log_path())

    def snapshots_path(self) -> Path:
        """The snapshot file: beside a log file, or DATA_DIR/COMPANY.snapshots.db for a log in a database.

        Snapshots are a cache of the fold (checked against the log's hashes), so they stay a local file.
        """
        location = self.log_location()
        base = location.path if location.path is not None else self.data_dir / f"{self.company}.db"
        return base.with_suffix(".snapshots.db")

    def peer_addresses(self, network: Network) -> dict[str, str]:
        """Base URL of every other company's server."""
        return {c.id: self.peers.get(c.id, f"http://{self.peer_host}:{c.api_port}")
                for c in network.companies if c.id != self.company}
