"""Where the companies are (`run/clients.json`) and what the network looks like (`GET /api/v1/network`).

The launcher writes `clients.json`; a client finds it through `--clients`,
the `RECARGA_CLIENTS_FILE` environment variable, or `run/clients.json`.
Nothing here touches the disk or the network until a function is called.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from contract.clients import CLIENTS_ENV, SIGNUP_LOGIN, ClientsFile, clients_path

DEFAULT_COMPANY = "voltpoint"


class ConfigError(Exception):
    """The clients' file or the network description is missing or unusable."""


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches one company: its REST API and its MQTT broker (with the shared sign-up login)."""

    company: str
    api: str
    broker_host: str
    broker_port: int
    signup_username: str = SIGNUP_LOGIN.username
    signup_password: str = SIGNUP_LOGIN.password


def load_endpoints(path: Path | str | None = None) -> dict[str, Endpoint]:
    """Every company of the clients' file, by id; ConfigError when the file is missing or malformed."""
    where = clients_path(path)
    try:
        companies = ClientsFile.read(where).companies
    except FileNotFoundError:
        raise ConfigError(f"no clients file at {where} (start the network with `python -m federation up`, "
                          f"or pass --clients / set {CLIENTS_ENV})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where_in = ".".join(map(str, first["loc"]))
        raise ConfigError(f"the clients file {where} is not usable: {where_in + ': ' if where_in else ''}"
                          f"{first['msg']}") from None
    except OSError as exc:
        raise ConfigError(f"the clients file {where} is not usable: {exc}") from None
    return {cid: Endpoint(company=cid, api=c.api, broker_host=c.broker_host, broker_port=c.broker_port,
                          signup_username=c.signup.username, signup_password=c.signup.password)
            for cid, c in companies.items()}


def endpoint_of(endpoints: dict[str, Endpoint], company: str) -> Endpoint:
    """One company's endpoint; ConfigError naming the known ones when it is not there."""
    try:
        return endpoints[company]
    except KeyError:
        raise ConfigError(f"unknown company {company!r}; known: {', '.join(sorted(endpoints))}") from None


def fold(text: str) -> str:
    """Lower case without accents or surrounding blanks: how names are compared ("São Luís" ~ "sao luis")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.casefold().replace("-", " ").split())


@dataclass(frozen=True)
class City:
    """A city of the network."""

    id: str
    name: str
    state: str
    lat: float = 0.0
    lon: float = 0.0

    @property
    def label(self) -> str:
        """'Name (UF)' for people."""
        return f"{self.name} ({self.state})"


@dataclass
class NetworkInfo:
    """What the terminal client, the drive and the fleet need of the network: cities, roads, company names."""

    cities: list[City]
    companies: dict[str, str] = field(default_factory=dict)  # id -> name
    roads: list[dict[str, Any]] = field(default_factory=list)
    stations: list[tuple[str, str]] = field(default_factory=list)  # (station id, city id)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkInfo:
        """Read the `GET /api/v1/network` document."""
        cities = [City(str(c["id"]), str(c["name"]), str(c.get("state", "")), float(c.get("lat", 0.0)),
                       float(c.get("lon", 0.0))) for c in data.get("cities", [])]
        companies = {str(c["id"]): str(c.get("name", c["id"])) for c in data.get("companies", [])}
        stations = [(str(s["id"]), str(s.get("city_id", ""))) for s in data.get("stations", [])]
        return cls(cities=cities, companies=companies, roads=list(data.get("roads", [])), stations=stations)

    def city(self, city_id: str) -> City | None:
        """The city with this id, or None."""
        return next((c for c in self.cities if c.id == city_id), None)

    def city_name(self, city_id: str) -> str:
        """The city's name, or its id when unknown."""
        found = self.city(city_id)
        return found.name if found is not None else city_id

    def company_name(self, company_id: str) -> str:
        """The company's name, or its id when unknown."""
        return self.companies.get(company_id, company_id)

    def road_km(self, a: str, b: str) -> float | None:
        """The shortest road joining two neighbouring cities, in km (None when no road joins them)."""
        lengths = [float(r["km"]) for r in self.roads if {r.get("a"), r.get("b")} == {a, b}]
        return min(lengths) if lengths else None

    def find_cities(self, text: str) -> list[City]:
        """The cities `text` names: a number from the numbered list (1-based), an id, a name, or part of one.

        An exact id or name wins over partial matches, so "Crato" is not
        ambiguous with a longer name that contains it.
        """
        query = text.strip()
        if not query:
            return []
        if query.isdigit():
            index = int(query)
            return [self.cities[index - 1]] if 1 <= index <= len(self.cities) else []
        wanted = fold(query)
        exact = [c for c in self.cities if wanted in (fold(c.id), fold(c.name))]
        if exact:
            return exact
        return [c for c in self.cities if wanted in fold(c.name) or wanted in fold(c.id)]


def fetch_network(endpoint: Endpoint, timeout: float = 10.0) -> NetworkInfo:
    """GET the company's network description; ConfigError when the server cannot be reached."""
    url = f"{endpoint.api}/api/v1/network"
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        return NetworkInfo.from_json(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"could not read the network from {url}: {exc}") from None
