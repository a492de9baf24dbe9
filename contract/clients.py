"""`clients.json`: where each company's server and broker are, and the public logins a client starts with.

The launcher writes it (`run/clients.json`), and so does `federation secrets` for companies on hosts of their own;
the vehicle simulator and the dashboards read it. One model for the writer and both readers, so that a field
and its default are said once.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Where a client looks for the file when not told (`--clients`, or this environment variable).
CLIENTS_ENV = "RECARGA_CLIENTS_FILE"
DEFAULT_CLIENTS_FILE = Path("run/clients.json")


class Login(BaseModel):
    """A broker username and password."""

    model_config = ConfigDict(frozen=True)

    username: str
    password: str


#: The shared sign-up login is public on purpose: it can only ask to sign up or log in.
SIGNUP_LOGIN = Login(username="signup", password="signup")


class CompanyAddress(BaseModel):
    """One company: its REST API, its broker, the shared sign-up login and the dashboards' read-only login."""

    model_config = ConfigDict(frozen=True)

    api: str = Field(description="the server's base URL, e.g. http://127.0.0.1:8101")
    broker_host: str
    broker_port: int = Field(ge=1, le=65535)
    signup: Login = SIGNUP_LOGIN
    dashboard: Login | None = None

    @field_validator("api")
    @classmethod
    def _no_trailing_slash(cls, api: str) -> str:
        return api.rstrip("/")


class ClientsFile(BaseModel):
    """The whole file: company id → its addresses."""

    companies: dict[str, CompanyAddress]

    @classmethod
    def read(cls, path: Path | str) -> ClientsFile:
        """Parse the file; OSError when it cannot be read, pydantic's ValidationError when it is not one."""
        return cls.model_validate_json(Path(path).read_bytes())

    def to_json(self) -> str:
        """The file's text, as the launcher writes it."""
        return self.model_dump_json(indent=2)


def clients_path(explicit: Path | str | None = None) -> Path:
    """The clients' file to read: the explicit one, else `$RECARGA_CLIENTS_FILE`, else `run/clients.json`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CLIENTS_ENV)
    return Path(env) if env else DEFAULT_CLIENTS_FILE
