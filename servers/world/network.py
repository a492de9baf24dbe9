"""The charging network: cities, roads, companies, stations and points, loaded from one JSON file.

The domain types are frozen dataclasses; pydantic validates them when the
file is read (`load_network`), and `Network` checks that every reference
names something that exists, so a bad file fails with the bad id in the
message. Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from servers.world.tariffs import Tariff

Connector = Literal["TYPE_2", "CCS_2", "CHADEMO", "GBT"]
AC_CONNECTORS: frozenset[str] = frozenset({"TYPE_2"})
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "network.json"
EARTH_RADIUS_KM = 6371.0088

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
State = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class NetworkDataError(ValueError):
    """The network file is malformed or refers to something that does not exist."""


@dataclass(frozen=True)
class City:
    """A city on the road graph; `state` is the two-letter UF (BA, PE, …)."""

    id: Slug
    name: str
    state: State
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


@dataclass(frozen=True)
class Road:
    """A two-way road between two neighbouring cities, along a named highway."""

    id: Slug
    a: Slug
    b: Slug
    highway: str
    km: Annotated[float, Field(gt=0)]


@dataclass(frozen=True)
class Point:
    """One charging point (OCPI: an EVSE with one connector)."""

    id: Slug
    power_kw: Annotated[float, Field(gt=0, le=400)]
    connector: Connector

    @property
    def is_ac(self) -> bool:
        """Alternating current (TYPE_2); the car's on-board charger limits it."""
        return self.connector in AC_CONNECTORS


@dataclass(frozen=True)
class Station:
    """A charging station (OCPI: a Location) of one company in one city."""

    id: Slug
    company_id: Slug
    city_id: Slug
    name: str
    points: tuple[Point, ...]
    tariff: Tariff | None = None  # where it differs from its company's


Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]


@dataclass(frozen=True)
class BookingTerms:
    """A company's booking terms (OCPI 2.3.0's BookingTerms), in minutes around a stop's window and in R$."""

    cancel_until_minutes: Minutes = 60  # before a stop's window: cancelled until then, its part is refunded
    change_until_minutes: Minutes = 60
    noshow_timeout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15  # after the window opens: NO_SHOW
    noshow_fee: Annotated[float, Field(ge=0, le=1000)] = 0.0
    early_start_minutes: Minutes = 10  # charging may begin this long before the window
    late_stop_minutes: Minutes = 10  # and go on this long after it

    def to_json(self) -> dict[str, Any]:
        """As the network file and the API write them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Company:
    """A charging company; the ports are the defaults of the local network (hosts come from config)."""

    id: Slug
    name: str
    state: State
    price_per_kwh: Annotated[float, Field(gt=0, le=20)]
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
    broker_port: Annotated[int, Field(gt=0, lt=65536)]
    api_port: Annotated[int, Field(gt=0, lt=65536)]
    booking_terms: BookingTerms = field(default_factory=BookingTerms)
    tariff: Tariff | None = None  # files without one: price_per_kwh is the whole tariff

    @property
    def own_tariff(self) -> Tariff:
        """The company's tariff (its stations' unless one says otherwise)."""
        return self.tariff if self.tariff is not None else Tariff(per_kwh=self.price_per_kwh)


def great_circle_km(a: City, b: City) -> float:
    """The haversine distance between two cities, in km."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _unique(kind: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise NetworkDataError(f"duplicate {kind} id {i!r}")
        seen.add(i)


@dataclass(frozen=True)
class Network:
    """The whole network, with lookups by id. Built once, shared read-only."""

    cities: tuple[City, ...]
    roads: tuple[Road, ...]
    companies: tuple[Company, ...]
    stations: tuple[Station, ...]
    _city: dict[str, City] = field(init=False, repr=False, compare=False)
    _station: dict[str, Station] = field(init=False, repr=False, compare=False)
    _company: dict[str, Company] = field(init=False, repr=False, compare=False)
    _point_owner: dict[str, Station] = field(init=False, repr=False, compare=False)
    _adjacent: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)
    _by_company: dict[str, tuple[Station, ...]] = field(init=False, repr=False, compare=False)
    _tariff: dict[str, Tariff] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _unique("city", (c.id for c in self.cities))
        _unique("road", (r.id for r in self.roads))
        _unique("company", (c.id for c in self.companies))
        _unique("station", (s.id for s in self.stations))
        _unique("point", (p.id for s in self.stations for p in s.points))
        city = {c.id: c for c in self.cities}
        company = {c.id: c for c in self.companies}
        adjacent: dict[str, dict[str, float]] = {c: {} for c in city}
        for r in self.roads:
            for end in (r.a, r.b):
                if end not in city:
                    raise NetworkDataError(f"road {r.id!r} ends at unknown city {end!r}")
            if r.a == r.b:
                raise NetworkDataError(f"road {r.id!r} is a loop at {r.a!r}")
            # Two roads between the same cities: the shorter one is the one anyone drives.
            km = min(r.km, adjacent[r.a].get(r.b, math.inf))
            adjacent[r.a][r.b] = adjacent[r.b][r.a] = km
        owner: dict[str, Station] = {}
        by_company: dict[str, list[Station]] = {c: [] for c in company}
        for s in self.stations:
            if s.city_id not in city:
                raise NetworkDataError(f"station {s.id!r} is in unknown city {s.city_id!r}")
            if s.company_id not in company:
                raise NetworkDataError(f"station {s.id!r} belongs to unknown company {s.company_id!r}")
            if city[s.city_id].state != company[s.company_id].state:
                raise NetworkDataError(
                    f"station {s.id!r} is in {city[s.city_id].state}, outside its company's state "
                    f"{company[s.company_id].state}")
            if not s.points:
                raise NetworkDataError(f"station {s.id!r} has no charging point")
            by_company[s.company_id].append(s)
            for p in s.points:
                owner[p.id] = s
        object.__setattr__(self, "_city", city)
        object.__setattr__(self, "_company", company)
        object.__setattr__(self, "_station", {s.id: s for s in self.stations})
        object.__setattr__(self, "_point_owner", owner)
        object.__setattr__(self, "_adjacent", adjacent)
        object.__setattr__(self, "_by_company", {c: tuple(v) for c, v in by_company.items()})
        # Looked up per stop on the booking path: resolved once here, never per request.
        object.__setattr__(self, "_tariff", {s.id: s.tariff or company[s.company_id].own_tariff
                                             for s in self.stations})

    # -- lookups ----------------------------------------------------------------------------------
    def city(self, city_id: str) -> City:
        """The city with this id; KeyError if none."""
        return self._city[city_id]

    def has_city(self, city_id: str) -> bool:
        """Whether a city with this id exists."""
        return city_id in self._city

    def station(self, station_id: str) -> Station:
        """The station with this id; KeyError if none."""
        return self._station[station_id]

    def company(self, company_id: str) -> Company:
        """The company with this id; KeyError if none."""
        return self._company[company_id]

    def tariff(self, station_id: str) -> Tariff:
        """The tariff charged at a station: its own, else its company's; KeyError for an unknown station."""
        return self._tariff[station_id]

    def stations_of(self, company_id: str) -> tuple[Station, ...]:
        """The stations of one company, in file order (empty for an unknown company)."""
        return self._by_company.get(company_id, ())

    def neighbours(self, city_id: str) -> dict[str, float]:
        """The cities one road away from `city_id`, with that road's km."""
        return dict(self._adjacent[city_id])

    def road_km(self, a: str, b: str) -> float:
        """The km of the road joining two neighbouring cities; KeyError if no road joins them."""
        return self._adjacent[a][b]

    def point_owner(self, point_id: str) -> Station:
        """The station a point belongs to; KeyError if none."""
        return self._point_owner[point_id]

    def drawn_powers(self, max_ac_kw: float, max_dc_kw: float) -> tuple[tuple[Station, tuple[tuple[str, float], ...]],
                                                                        ...]:
        """Every station with the power a car of these limits draws at each of its points (cached per limits)."""
        key = (max_ac_kw, max_dc_kw)
        found = self._powers_cache.get(key)
        if found is None:
            found = tuple((s, tuple((p.id, min(p.power_kw, max_ac_kw if p.is_ac else max_dc_kw)) for p in s.points))
                          for s in self.stations)
            if len(self._powers_cache) < 256:  # a bound: cars come in a handful of kinds
                self._powers_cache[key] = found
        return found

    @cached_property
    def _powers_cache(self) -> dict[tuple[float, float], tuple[tuple[Station, tuple[tuple[str, float], ...]], ...]]:
        return {}

    # -- roads ------------------------------------------------------------------------------------
    def shortest_km(self, source: str) -> dict[str, float]:
        """Road km from `source` to every city it reaches (Dijkstra), cached per source."""
        return self._shortest(source)[0]

    def road_path(self, source: str, target: str) -> tuple[str, ...]:
        """The cities along the shortest road from `source` to `target`, both included."""
        dist, prev = self._shortest(source)
        if target not in dist:
            raise KeyError(f"no road from {source!r} to {target!r}")
        path = [target]
        while path[-1] != source:
            path.append(prev[path[-1]])
        return tuple(reversed(path))

    @cached_property
    def _shortest_cache(self) -> dict[str, tuple[dict[str, float], dict[str, str]]]:
        return {}

    def _shortest(self, source: str) -> tuple[dict[str, float], dict[str, str]]:
        cached = self._shortest_cache.get(source)
        if cached is not None:
            return cached
        if source not in self._adjacent:
            raise KeyError(source)
        dist: dict[str, float] = {source: 0.0}
        prev: dict[str, str] = {}
        heap: list[tuple[float, str]] = [(0.0, source)]
        done: set[str] = set()
        while heap:
            d, u = heapq.heappop(heap)
            if u in done:
                continue
            done.add(u)
            for v, km in self._adjacent[u].items():
                nd = d + km
                if nd < dist.get(v, math.inf):
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        # The cache only grows with distinct sources (bounded by the number of cities); a race
        # between threads computes the same value twice, which is harmless.
        self._shortest_cache[source] = (dist, prev)
        return dist, prev


class _NetworkFile(BaseModel):
    """The shape of network.json."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    cities: list[City]
    roads: list[Road]
    companies: list[Company]
    stations: list[Station]


def parse_network(data: object) -> Network:
    """Validate decoded JSON (a dict) and build the network; NetworkDataError names what is wrong."""
    try:
        raw = _NetworkFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            loc = list(err["loc"])
            where = ".".join(str(x) for x in loc)
            # Name the offending item by its id when the input has one, not only by its index.
            if len(loc) >= 2 and isinstance(data, dict) and isinstance(loc[1], int):
                items = data.get(str(loc[0]), [])
                if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                    where += f" (id {items[loc[1]].get('id')!r})"
            problems.append(f"{where}: {err['msg']}")
        raise NetworkDataError("invalid network data: " + "; ".join(problems)) from exc
    return Network(cities=tuple(raw.cities), roads=tuple(raw.roads),
                   companies=tuple(raw.companies), stations=tuple(raw.stations))


def load_network(path: Path | None = None) -> Network:
    """Read and validate the network file (default: the packaged servers/data/network.json)."""
    source = path or DEFAULT_PATH
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise NetworkDataError(f"{source}: not valid JSON: {exc}") from exc
    return parse_network(data)
