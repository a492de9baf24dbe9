"""The trip planner: where to stop and how much to charge, minimising driving + charging time.

The search is A* over states (node, arrival charge), where a node is the
origin, the destination or a city with a usable station, and consecutive
nodes are joined by the shortest road between them. Charging is linear at
the stop's power, so — as in the "gas station problem" — an optimal plan
exists in which every stop either charges just enough to arrive at the next
node at the reserve, or, when the next stop is slower, fills the battery.
The arrival charges are therefore one of a few values per node, and the
search over them is exact. docs/planner.md has the argument and an example.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from servers.core.network import Network, Station
from servers.core.plans import (
    NO_EXCLUSIONS,
    Exclusions,
    Plan,
    PlanningError,
    Stop,
    UnknownCity,
    Unreachable,
    stop_window,
    stop_window_ts,
)
from servers.core.vehicles import Vehicle

__all__ = ["NO_EXCLUSIONS", "Exclusions", "Plan", "PlanningError", "Stop", "UnknownCity", "Unreachable", "plan_trip"]

EPS = 1e-9
MAX_ALTERNATIVE_SEARCHES = 40


class _Label(NamedTuple):
    """A way of arriving at `node` at minute `t` with `level` kWh; `parent` led here.

    A tuple, not a dataclass: a search makes hundreds, and a frozen dataclass's __init__ costs several times more.
    """

    node: str
    level: float
    t: float
    parent: _Label | None
    station: Station | None  # where the parent charged
    power: float  # kW drawn there
    energy: float  # kWh charged there
    km: float  # the road from the parent's node


class _Search:
    """One planning problem: the network as this vehicle may use it, with some stations banned."""

    def __init__(self, network: Network, origin: str, destination: str, departure: datetime,
                 vehicle: Vehicle, exclude: Exclusions, speed_kmh: float) -> None:
        self.network, self.origin, self.destination = network, origin, destination
        self.departure, self.vehicle, self.exclude = departure, vehicle, exclude
        self.departure_ts = departure.timestamp()
        self.timed = exclude.timed
        self.speed = speed_kmh * vehicle.profile.speed_factor / 60.0  # km per minute
        self.use = vehicle.effective_consumption
        self.cap, self.reserve = vehicle.capacity_kwh, vehicle.reserve_kwh
        self.max_leg_km = (self.cap - self.reserve) / self.use
        # Usable stations per city, fastest first: a slower station in the same city is only worth
        # trying when the faster ones are blocked by an excluded window.
        self.by_city: dict[str, list[tuple[float, Station]]] = {}
        banned_points = exclude.points
        for s, points in network.drawn_powers(vehicle.max_ac_kw, vehicle.max_dc_kw):
            if s.id in exclude.stations or s.city_id == destination:
                continue
            power = max((kw for pid, kw in points if pid not in banned_points), default=0.0)
            if power > 0:
                self.by_city.setdefault(s.city_id, []).append((power, s))
        for options in self.by_city.values():
            options.sort(key=lambda ps: (-ps[0], ps[1].id))
        self.to_dest = network.shortest_km(destination)
        self.best_power = max((o[0][0] for o in self.by_city.values()), default=1.0)
        self._targets: dict[str, list[tuple[float, str]]] = {}

    def power(self, city: str) -> float:
        """The fastest usable power in a station city (0 when it has none)."""
        options = self.by_city.get(city)
        return options[0][0] if options else 0.0

    def targets(self, city: str) -> list[tuple[float, str]]:
        """The station cities and the destination one leg away from `city`, nearest first."""
        found = self._targets.get(city)
        if found is None:
            dist = self.network.shortest_km(city)
            found = sorted((dist[c], c) for c in [*self.by_city, self.destination]
                           if c != city and c in dist and dist[c] <= self.max_leg_km + EPS)
            self._targets[city] = found
        return found

    def h(self, city: str, level: float) -> float:
        """A lower bound on the minutes left: driving the shortest road, charging the deficit at top speed.

        It never decreases by more than an edge costs, so A* pops the destination first at its optimum.
        """
        km = self.to_dest.get(city, 0.0)
        deficit = km * self.use + self.reserve - level
        return km / self.speed + (60.0 * deficit / self.best_power if deficit > 0 else 0.0)

    def charge_at(self, city: str, arrive_min: float, energy: float) -> tuple[float, Station] | None:
        """The fastest station in `city` whose stop window is not excluded (nor busy), or None."""
        busy, windows = self.exclude.busy, self.exclude.windows
        for power, station in self.by_city.get(city, ()):
            if windows:
                arrive_at = self.departure + timedelta(minutes=arrive_min)
                if self.exclude.blocks(station.id, *stop_window(arrive_at, arrive_at + timedelta(
                        minutes=60.0 * energy / power))):
                    continue
            if busy is not None:
                arrive = self.departure_ts + 60.0 * arrive_min
                if busy(station, power, *stop_window_ts(arrive, arrive + 3600.0 * energy / power)):
                    continue
            return power, station
        return None

    def run(self) -> _Label | tuple[str, float]:
        """The fastest arrival at the destination, or (the closest city reached, its km to go)."""
        start = _Label(self.origin, self.vehicle.charge_kwh, 0.0, None, None, 0.0, 0.0, 0.0)
        counter = itertools.count()
        heap: list[tuple[float, int, int, _Label]] = [(self.h(self.origin, start.level), 0, 0, start)]
        settled: dict[str, list[tuple[float, float]]] = {}
        closest = (self.origin, self.to_dest.get(self.origin, float("inf")))
        while heap:
            _, stops, _, label = heapq.heappop(heap)
            node = label.node
            if node == self.destination:
                return label
            if self._dominated(settled.setdefault(node, []), label, self.power(node)):
                continue
            settled[node].append((label.level, label.t))
            if self.to_dest.get(node, float("inf")) < closest[1]:
                closest = (node, self.to_dest[node])

            def push(new: _Label, n_stops: int) -> None:
                heapq.heappush(heap, (new.t + self.h(new.node, new.level), n_stops, next(counter), new))

            if label.parent is None:  # the origin: drive on the charge the car has, without stopping
                for km, target in self.targets(node):
                    level = label.level - km * self.use
                    if level < self.reserve - EPS:
                        break
                    push(_Label(target, level, km / self.speed, label, None, 0.0, 0.0, km), stops)
            if node not in self.by_city:
                continue
            here_power = self.power(node)
            for km, target in self.targets(node):
                drive = km / self.speed
                need = self.reserve + km * self.use - label.level
                if need > EPS:  # just enough to arrive at the reserve
                    self._charge_and_go(label, target, km, drive, need, self.reserve, stops, push)
                # Fill up only when the next stop is slower: charging here is then the better buy.
                if target != self.destination and self.power(target) < here_power - EPS \
                        and self.cap - label.level > EPS:
                    self._charge_and_go(label, target, km, drive, self.cap - label.level,
                                        self.cap - km * self.use, stops, push)
        return closest

    def _charge_and_go(self, label: _Label, target: str, km: float, drive: float, energy: float,
                       arrive_level: float, stops: int, push: Callable[[_Label, int], None]) -> None:
        found = self.charge_at(label.node, label.t, energy)
        if found is None:
            return
        power, station = found
        t = label.t + 60.0 * energy / power + drive
        push(_Label(target, arrive_level, t, label, station, power, energy, km), stops + 1)

    def _dominated(self, settled: list[tuple[float, float]], label: _Label, power: float) -> bool:
        """Another arrival here was no later with no less charge, or was earlier by more than
        charging up to this label's level takes (then it can do all this label can, no later).
        """
        # With excluded windows (or busy points) the fastest station may be blocked at some times: keep to
        # the plain rule there, which holds whatever station is used.
        top_up = 60.0 / power if power > 0 and not self.timed else None
        for lvl, t in settled:
            if lvl >= label.level - EPS and t <= label.t + EPS:
                return True
            if top_up is not None and t + (label.level - lvl) * top_up <= label.t + EPS:
                return True
        return False


def _build(search: _Search, final: _Label) -> Plan:
    """Turn the chain of labels into a Plan with clock times and costs."""
    chain: list[_Label] = []
    label: _Label | None = final
    while label is not None:
        chain.append(label)
        label = label.parent
    chain.reverse()
    net, dep = search.network, search.departure
    stops: list[Stop] = []
    path: list[str] = [search.origin]
    costs: dict[str, float] = {}
    distance = charging = 0.0
    for prev, nxt in itertools.pairwise(chain):
        leg = net.road_path(prev.node, nxt.node)
        path.extend(leg[1:])
        distance += nxt.km
        if nxt.station is not None:
            minutes = 60.0 * nxt.energy / nxt.power
            charging += minutes
            arrive = dep + timedelta(minutes=prev.t)
            depart = arrive + timedelta(minutes=minutes)
            start, end = stop_window(arrive, depart)
            company = net.company(nxt.station.company_id)
            cost = round(nxt.energy * company.price_per_kwh, 2)
            costs[company.id] = round(costs.get(company.id, 0.0) + cost, 2)
            stops.append(Stop(station_id=nxt.station.id, company_id=company.id, city_id=prev.node,
                              power_kw=nxt.power, arrive_at=arrive, arrive_kwh=prev.level,
                              energy_kwh=nxt.energy, charge_minutes=minutes, depart_at=depart,
                              window_start=start, window_end=end, cost=cost))
    driving = distance / search.speed
    return Plan(origin=search.origin, destination=search.destination, departure=dep, path=tuple(path),
                stops=tuple(stops), arrival=dep + timedelta(minutes=final.t), distance_km=distance,
                driving_minutes=driving, charging_minutes=charging, total_minutes=final.t,
                arrival_kwh=final.level, cost_by_company=costs)


def _refusal(search: _Search, closest: str, vehicle: Vehicle) -> Unreachable:
    net = search.network
    dest = net.city(search.destination).name
    if closest == search.origin and search.origin not in search.by_city:
        km = vehicle.usable_range_km()
        return Unreachable(
            f"with {vehicle.charge_kwh:.1f} kWh the car drives {km:.0f} km before its reserve, and no usable "
            f"charging station is that close to {net.city(search.origin).name} on the way to {dest}",
            "OUT_OF_RANGE")
    return Unreachable(
        f"no usable charging station within {search.max_leg_km:.0f} km (the car's range on a full battery)"
        f" of {net.city(closest).name} on the way to {dest}", "OUT_OF_RANGE")


def plan_trip(network: Network, origin: str, destination: str, departure: datetime, vehicle: Vehicle,
              *, exclude: Exclusions = NO_EXCLUSIONS, k: int = 1, speed_kmh: float = 80.0,
              max_searches: int = MAX_ALTERNATIVE_SEARCHES) -> list[Plan]:
    """Up to `k` distinct plans from `origin` to `destination`, fastest first (driving + charging).

    Raises UnknownCity for a city not in the network and Unreachable (with a code) when the car
    cannot make the trip. The alternatives after the first are the fastest plans that avoid one
    more station of a plan already found (Yen's idea, on stations instead of roads), after at most
    `max_searches` searches.
    """
    for city in (origin, destination):
        if not network.has_city(city):
            raise UnknownCity(city)
    if speed_kmh <= 0 or k < 1:
        raise ValueError("speed_kmh must be > 0 and k >= 1")
    if destination not in network.shortest_km(origin):
        raise Unreachable(f"no road joins {network.city(origin).name} and {network.city(destination).name}",
                          "NO_ROAD")

    def solve(banned: frozenset[str]) -> Plan | Unreachable:
        ex = Exclusions(exclude.points, exclude.stations | banned, exclude.windows, exclude.busy)
        search = _Search(network, origin, destination, departure, vehicle, ex, speed_kmh)
        found = search.run()
        return _build(search, found) if isinstance(found, _Label) else _refusal(search, found[0], vehicle)

    first = solve(frozenset())
    if isinstance(first, Unreachable):
        raise first
    plans, seen = [first], {first.station_ids}
    queue: list[tuple[float, int, int, Plan, frozenset[str]]] = []
    tried: set[frozenset[str]] = set()
    counter = itertools.count()

    def spawn(plan: Plan, banned: frozenset[str]) -> None:
        for stop in plan.stops:
            more = banned | {stop.station_id}
            if more in tried or len(tried) >= max_searches:
                continue
            tried.add(more)
            alt = solve(more)
            if isinstance(alt, Plan):
                heapq.heappush(queue, (alt.total_minutes, len(alt.stops), next(counter), alt, more))

    if k > 1:
        spawn(first, frozenset())
    while len(plans) < k and queue:
        _, _, _, alt, banned = heapq.heappop(queue)
        if alt.station_ids in seen:
            spawn(alt, banned)  # the same stops again: look further from here
            continue
        plans.append(alt)
        seen.add(alt.station_ids)
        spawn(alt, banned)
    return sorted(plans, key=lambda p: (p.total_minutes, len(p.stops)))
