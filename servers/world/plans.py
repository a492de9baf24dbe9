"""What the trip planner answers with: plans and their stops, exclusions, and its refusals."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from servers.world.tariffs import Price

if TYPE_CHECKING:
    from servers.world.network import Station

# The window reserved at a stop starts this much before the planned arrival and ends this much after
# the planned departure, so a car a little early or late still finds its point held.
WINDOW_SLACK = timedelta(minutes=10)

ExcludedWindow = tuple[str, datetime, datetime]


class PlanningError(Exception):
    """Base of the planner's refusals."""


class UnknownCity(PlanningError):
    """The origin or destination is not a city of the network."""

    def __init__(self, city_id: str) -> None:
        super().__init__(f"unknown city {city_id!r}")
        self.city_id = city_id


class Unreachable(PlanningError):
    """No plan the car can drive exists; `code` is stable, `reason` says why in words."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Exclusions:
    """What the planner must not use: points, whole stations, stations during time windows, and — when `busy` is
    given — a station whose points fast enough are all taken for a stop's window (station, kW, and the window's
    start and end in epoch seconds)."""

    points: frozenset[str] = frozenset()
    stations: frozenset[str] = frozenset()
    windows: tuple[ExcludedWindow, ...] = ()
    busy: Callable[[Station, float, float, float], bool] | None = None

    @property
    def timed(self) -> bool:
        """Whether a station may be usable at one time and not at another (windows or busy points)."""
        return bool(self.windows) or self.busy is not None

    def blocks(self, station_id: str, start: datetime, end: datetime) -> bool:
        """Whether [start, end) overlaps an excluded window at this station."""
        return any(sid == station_id and start < w_end and w_start < end
                   for sid, w_start, w_end in self.windows)


NO_EXCLUSIONS = Exclusions()


def floor_minute(t: datetime) -> datetime:
    """`t` rounded down to the whole minute."""
    return t.replace(second=0, microsecond=0)


def ceil_minute(t: datetime) -> datetime:
    """`t` rounded up to the whole minute."""
    down = floor_minute(t)
    return down if down == t else down + timedelta(minutes=1)


def stop_window(arrive_at: datetime, depart_at: datetime) -> tuple[datetime, datetime]:
    """The window to reserve for a stop: the slack either side, widened to whole minutes."""
    return floor_minute(arrive_at - WINDOW_SLACK), ceil_minute(depart_at + WINDOW_SLACK)


_SLACK_S = WINDOW_SLACK.total_seconds()


def stop_window_ts(arrive_ts: float, depart_ts: float) -> tuple[float, float]:
    """`stop_window` in epoch seconds (what a search tries many times: datetimes cost ten times more)."""
    return math.floor((arrive_ts - _SLACK_S) / 60.0) * 60.0, math.ceil((depart_ts + _SLACK_S) / 60.0) * 60.0


def stop_price(stop: Mapping[str, Any]) -> Price:
    """A planned stop's price by part, from its JSON (plans of before 2026-12-02 have only `cost`: energy)."""
    price = stop.get("price")
    return Price.from_json(price) if price else Price(energy=round(float(stop.get("cost", 0.0)) * 100))


def cost_cents_by_company(stops: Iterable[Stop]) -> dict[str, int]:
    """What a trip owes each company on it, in cents: the sum of its stops' prices (what the trip is debited)."""
    costs: dict[str, int] = {}
    for s in stops:
        costs[s.company_id] = costs.get(s.company_id, 0) + s.price.total
    return costs


@dataclass(frozen=True)
class Stop:
    """One charging stop: where, when, how much energy, at what power, and the window to reserve."""

    station_id: str
    company_id: str
    city_id: str
    power_kw: float
    arrive_at: datetime
    arrive_kwh: float
    energy_kwh: float
    charge_minutes: float
    depart_at: datetime
    window_start: datetime
    window_end: datetime
    cost: float  # R$: the price's total
    price: Price = field(default_factory=Price)  # by part, in cents (servers.world.tariffs)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""
        return {"station_id": self.station_id, "company_id": self.company_id, "city_id": self.city_id,
                "power_kw": self.power_kw, "arrive_at": self.arrive_at.isoformat(),
                "arrive_kwh": self.arrive_kwh, "energy_kwh": self.energy_kwh,
                "charge_minutes": self.charge_minutes, "depart_at": self.depart_at.isoformat(),
                "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "cost": self.cost, "price": self.price.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stop:
        """The inverse of `to_json`."""
        return cls(station_id=data["station_id"], company_id=data["company_id"], city_id=data["city_id"],
                   power_kw=float(data["power_kw"]), arrive_at=datetime.fromisoformat(data["arrive_at"]),
                   arrive_kwh=float(data["arrive_kwh"]), energy_kwh=float(data["energy_kwh"]),
                   charge_minutes=float(data["charge_minutes"]),
                   depart_at=datetime.fromisoformat(data["depart_at"]),
                   window_start=datetime.fromisoformat(data["window_start"]),
                   window_end=datetime.fromisoformat(data["window_end"]), cost=float(data["cost"]),
                   price=stop_price(data))


@dataclass(frozen=True)
class Plan:
    """A drivable trip: the road taken, the charging stops, and what it costs in time and R$."""

    origin: str
    destination: str
    departure: datetime
    path: tuple[str, ...]
    stops: tuple[Stop, ...]
    arrival: datetime
    distance_km: float
    driving_minutes: float
    charging_minutes: float
    total_minutes: float
    arrival_kwh: float
    cost_by_company: dict[str, float] = field(default_factory=dict)

    @property
    def cost(self) -> float:
        """The whole trip's charging cost in R$."""
        return round(sum(self.cost_by_company.values()), 2)

    @property
    def cost_cents_by_company(self) -> dict[str, int]:
        """What the trip owes each company, in cents: its stops' prices summed (what it is debited)."""
        return cost_cents_by_company(self.stops)

    @property
    def station_ids(self) -> tuple[str, ...]:
        """The stations stopped at, in order: what tells two plans apart."""
        return tuple(s.station_id for s in self.stops)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601)."""
        return {"origin": self.origin, "destination": self.destination,
                "departure": self.departure.isoformat(), "path": list(self.path),
                "stops": [s.to_json() for s in self.stops], "arrival": self.arrival.isoformat(),
                "distance_km": self.distance_km, "driving_minutes": self.driving_minutes,
                "charging_minutes": self.charging_minutes, "total_minutes": self.total_minutes,
                "arrival_kwh": self.arrival_kwh, "cost_by_company": dict(self.cost_by_company)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """The inverse of `to_json`."""
        return cls(origin=data["origin"], destination=data["destination"],
                   departure=datetime.fromisoformat(data["departure"]), path=tuple(data["path"]),
                   stops=tuple(Stop.from_json(s) for s in data["stops"]),
                   arrival=datetime.fromisoformat(data["arrival"]), distance_km=float(data["distance_km"]),
                   driving_minutes=float(data["driving_minutes"]),
                   charging_minutes=float(data["charging_minutes"]),
                   total_minutes=float(data["total_minutes"]), arrival_kwh=float(data["arrival_kwh"]),
                   cost_by_company={k: float(v) for k, v in data["cost_by_company"].items()})

    def describe(self, names: dict[str, str] | None = None) -> str:
        """A few lines a person can read: the road, each stop, the totals."""
        n = names or {}

        def name(city: str) -> str:
            return n.get(city, city)

        def hm(minutes: float) -> str:
            whole = math.ceil(minutes - 1e-9)
            return f"{whole // 60}h{whole % 60:02d}"

        lines = [f"{name(self.origin)} → {name(self.destination)}: {self.distance_km:.0f} km, "
                 f"{hm(self.total_minutes)} ({hm(self.driving_minutes)} driving, "
                 f"{hm(self.charging_minutes)} charging), R$ {self.cost:.2f}"]
        for s in self.stops:
            lines.append(f"  {s.arrive_at:%H:%M} {name(s.city_id)} at {s.station_id}: arrive {s.arrive_kwh:.1f} kWh,"
                         f" +{s.energy_kwh:.1f} kWh at {s.power_kw:g} kW in {s.charge_minutes:.0f} min,"
                         f" leave {s.depart_at:%H:%M}; reserve {s.window_start:%H:%M}–{s.window_end:%H:%M}")
        lines.append(f"  arrive {self.arrival:%d/%m %H:%M} with {self.arrival_kwh:.1f} kWh")
        return "\n".join(lines)


def splice(old: Plan, k: int, suffix: Plan, road_km: Callable[[str, str], float]) -> Plan:
    """`old` up to its stop `k` (not included), then `suffix` — a plan from the city of stop k-1 (or `old`'s
    origin) to the same destination: the trip as re-booked from stop `k` on."""
    if suffix.destination != old.destination:
        raise ValueError("the suffix must end where the plan does")
    kept = old.stops[:k]
    start = kept[-1].city_id if kept else old.origin
    if suffix.origin != start:
        raise ValueError(f"the suffix must leave from {start}")
    # The road up to the last stop kept: that city's first visit after the previous kept stop's.
    at = 0
    for stop in kept:
        at = old.path.index(stop.city_id, at)
    path = old.path[:at + 1] + suffix.path[1:]
    prefix_km = sum(road_km(a, b) for a, b in zip(old.path[:at], old.path[1:at + 1], strict=True))
    charging = sum(s.charge_minutes for s in kept) + suffix.charging_minutes
    total = (suffix.arrival - old.departure).total_seconds() / 60.0
    costs = {c: v / 100 for c, v in cost_cents_by_company((*kept, *suffix.stops)).items()}
    return Plan(origin=old.origin, destination=old.destination, departure=old.departure, path=path,
                stops=(*kept, *suffix.stops), arrival=suffix.arrival,
                distance_km=round(prefix_km + suffix.distance_km, 1), driving_minutes=round(total - charging, 3),
                charging_minutes=round(charging, 3), total_minutes=round(total, 3), arrival_kwh=suffix.arrival_kwh,
                cost_by_company=costs)
