"""Where a car on a planned trip is, and how charged, at any moment — and which check-ins are due.

Pure functions over a plan (`Plan.to_json()`) and the network; the Drive page moves a clock through them.
The car drives at a steady pace between the plan's times and charges linearly at each stop, which is what
the planner assumed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboards.theme import parse_time


@dataclass(frozen=True)
class Leg:
    """A stretch of the trip: driving from km a to km b, or charging at a stop (a == b)."""

    kind: str  # "drive" or "charge"
    start: datetime
    end: datetime
    km_a: float
    km_b: float
    kwh_a: float
    kwh_b: float
    stop: int | None = None


@dataclass(frozen=True)
class CheckIn:
    """A check-in the car makes when the clock reaches `at`."""

    at: datetime
    stop: int
    action: str  # "start" or "finish"
    energy_kwh: float | None = None


@dataclass(frozen=True)
class Position:
    """The car at one moment."""

    lat: float
    lon: float
    km: float
    kwh: float
    doing: str  # a sentence: "driving to Feira de Santana", "charging at vp-…", "arrived"


def _road_km(network: dict[str, Any]) -> dict[frozenset[str], float]:
    best: dict[frozenset[str], float] = {}
    for r in network.get("roads", []):
        pair = frozenset((r["a"], r["b"]))
        best[pair] = min(best.get(pair, float("inf")), float(r["km"]))
    return best


def path_km(plan: dict[str, Any], network: dict[str, Any]) -> list[float]:
    """The km from the origin at each city of the path (straight-line guess where no road joins two cities)."""
    roads = _road_km(network)
    path = plan.get("path", [])
    out = [0.0]
    for a, b in itertools.pairwise(path):
        out.append(out[-1] + roads.get(frozenset((a, b)), 0.0))
    total = float(plan.get("distance_km") or out[-1])
    if out[-1] > 0 and abs(out[-1] - total) > 1e-6:
        out = [k * total / out[-1] for k in out]  # trust the planner's distance
    return out


def start_kwh(plan: dict[str, Any], network: dict[str, Any], fallback: float | None = None) -> float:
    """The charge at departure: the first stop's arrival plus the energy the first leg used, when it can be told."""
    stops = plan.get("stops", [])
    if not stops:
        return float(fallback if fallback is not None else plan.get("arrival_kwh", 0.0))
    kms = path_km(plan, network)
    stop_kms = _stop_kms(plan, kms)
    first_leg = stop_kms[0]
    if first_leg <= 1e-9:
        return float(stops[0]["arrive_kwh"])
    # The consumption per km, from a later leg whose ends are both known.
    leaves = [(float(s["arrive_kwh"]) + float(s["energy_kwh"]), stop_kms[i]) for i, s in enumerate(stops)]
    ends = [(float(s["arrive_kwh"]), stop_kms[i + 1]) for i, s in enumerate(stops[1:])]
    ends.append((float(plan.get("arrival_kwh", 0.0)), kms[-1]))
    for (leave_kwh, km0), (arrive_kwh, km1) in zip(leaves, ends, strict=True):
        if km1 - km0 > 1e-6:
            per_km = (leave_kwh - arrive_kwh) / (km1 - km0)
            return float(stops[0]["arrive_kwh"]) + per_km * first_leg
    return float(fallback if fallback is not None else stops[0]["arrive_kwh"])


def _stop_kms(plan: dict[str, Any], kms: list[float]) -> list[float]:
    path = plan.get("path", [])
    out, index = [], 0
    for s in plan.get("stops", []):
        while index < len(path) and path[index] != s["city_id"]:
            index += 1
        out.append(kms[min(index, len(kms) - 1)] if kms else 0.0)
    return out


def legs(plan: dict[str, Any], network: dict[str, Any], kwh0: float | None = None) -> list[Leg]:
    """The trip as drive and charge legs, in order."""
    kms = path_km(plan, network)
    stop_kms = _stop_kms(plan, kms)
    t = parse_time(plan["departure"])
    assert t is not None
    km, kwh = 0.0, start_kwh(plan, network, kwh0) if kwh0 is None else kwh0
    out: list[Leg] = []
    for i, s in enumerate(plan.get("stops", [])):
        arrive, depart = parse_time(s["arrive_at"]), parse_time(s["depart_at"])
        assert arrive is not None and depart is not None
        out.append(Leg("drive", t, max(arrive, t), km, stop_kms[i], kwh, float(s["arrive_kwh"])))
        full = float(s["arrive_kwh"]) + float(s["energy_kwh"])
        out.append(Leg("charge", arrive, depart, stop_kms[i], stop_kms[i], float(s["arrive_kwh"]), full, i))
        t, km, kwh = depart, stop_kms[i], full
    arrival = parse_time(plan["arrival"])
    assert arrival is not None
    out.append(Leg("drive", t, max(arrival, t), km, kms[-1] if kms else 0.0, kwh, float(plan.get("arrival_kwh", 0))))
    return out


def check_ins(plan: dict[str, Any]) -> list[CheckIn]:
    """Start charging when the car reaches each stop, finish when it leaves — in time order."""
    out = []
    for i, s in enumerate(plan.get("stops", [])):
        arrive, depart = parse_time(s["arrive_at"]), parse_time(s["depart_at"])
        assert arrive is not None and depart is not None
        out.append(CheckIn(arrive, i, "start"))
        out.append(CheckIn(depart, i, "finish", round(float(s["energy_kwh"]), 3)))
    return out


def _interpolate(coords: list[tuple[float, float]], kms: list[float], km: float) -> tuple[float, float]:
    if not coords:
        return (0.0, 0.0)
    for i in range(1, len(kms)):
        if km <= kms[i] or i == len(kms) - 1:
            span = kms[i] - kms[i - 1]
            f = 0.0 if span <= 0 else min(max((km - kms[i - 1]) / span, 0.0), 1.0)
            (a_lat, a_lon), (b_lat, b_lon) = coords[i - 1], coords[i]
            return (a_lat + f * (b_lat - a_lat), a_lon + f * (b_lon - a_lon))
    return coords[0]


def position(plan: dict[str, Any], network: dict[str, Any], trip_legs: list[Leg], t: datetime) -> Position:
    """Where the car is and how charged at time `t` (before departure: at the origin; after arrival: there)."""
    cities = {c["id"]: c for c in network.get("cities", [])}
    path = plan.get("path", [])
    coords = [(cities[c]["lat"], cities[c]["lon"]) for c in path if c in cities]
    kms = path_km(plan, network)
    names = {c: cities[c]["name"] for c in path if c in cities}
    if not trip_legs or t < trip_legs[0].start:
        first = trip_legs[0] if trip_legs else None
        lat, lon = _interpolate(coords, kms, 0.0)
        return Position(lat, lon, 0.0, first.kwh_a if first else 0.0, f"waiting to leave {names.get(path[0], '')}")
    if t >= trip_legs[-1].end:  # at the arrival time the car has arrived: it is no longer driving towards it
        last = trip_legs[-1]
        lat, lon = _interpolate(coords, kms, last.km_b)
        return Position(lat, lon, last.km_b, last.kwh_b, f"arrived at {names.get(path[-1], '')}" if path
                        else "arrived")
    for leg in trip_legs:
        if t < leg.end:
            span = (leg.end - leg.start).total_seconds()
            f = 1.0 if span <= 0 else min(max((t - leg.start).total_seconds() / span, 0.0), 1.0)
            km = leg.km_a + f * (leg.km_b - leg.km_a)
            kwh = leg.kwh_a + f * (leg.kwh_b - leg.kwh_a)
            lat, lon = _interpolate(coords, kms, km)
            if leg.kind == "charge":
                station = plan["stops"][leg.stop]["station_id"] if leg.stop is not None else ""
                doing = f"charging at {station}"
            else:
                nxt = next((c for c, k in zip(path, kms, strict=False) if k > km + 1e-6), path[-1] if path else "")
                doing = f"driving towards {names.get(nxt, nxt)}"
            return Position(lat, lon, km, kwh, doing)
    last = trip_legs[-1]
    lat, lon = _interpolate(coords, kms, last.km_b)
    return Position(lat, lon, last.km_b, last.kwh_b, f"arrived at {names.get(path[-1], '')}" if path else "arrived")
