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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from servers.world.network import Network, Station
from servers.world.plancache import PlanCache
from servers.world.plans import (
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
from servers.world.tariffs import Price
from servers.world.vehicles import Vehicle

__all__ = ["DEFAULT_OPTIONS", "NO_EXCLUSIONS", "Exclusions", "Plan", "PlanCache", "PlanOptions", "PlanningError",
           "Stop", "UnknownCity", "Unreachable", "detour_reason", "plan_trip"]

EPS = 1e-9
MAX_ALTERNATIVE_SEARCHES = 40


@dataclass(frozen=True)
class PlanOptions:
    """What a driver may set, as route planners let them (each None or default: the planner's own rule).

    `arrival_kwh`: the least charge on reaching the destination (default: the car's reserve).
    `stop_arrival_kwh`: the least charge on reaching a charger (default: the car's reserve).
    `max_charge_fraction`: a stop charges at most up to this share of the battery (1.0: full).
    `stop_penalty_minutes`: fewer vs faster — each stop counts as this many minutes more when plans are
    compared, so a plan with one stop less wins when it arrives at most that much later (0: the fastest).
    """

    arrival_kwh: float | None = None
    stop_arrival_kwh: float | None = None
    max_charge_fraction: float = 1.0
    stop_penalty_minutes: float = 0.0

    def __post_init__(self) -> None:
        for name in ("arrival_kwh", "stop_arrival_kwh"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < float("inf"):
                raise ValueError(f"{name} must be >= 0")
        if not 0 < self.max_charge_fraction <= 1:
            raise ValueError("max_charge_fraction must be within (0, 1]")
        if not 0 <= self.stop_penalty_minutes < float("inf"):
            raise ValueError("stop_penalty_minutes must be >= 0")


DEFAULT_OPTIONS = PlanOptions()


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
    stops: int = 0  # charging stops so far

    def cost(self, penalty: float) -> float:
        """What the search minimises: minutes, plus the penalty for each stop."""
        return self.t + penalty * self.stops


def _first_free(choices: Sequence[tuple[float, Station]], departure: datetime, departure_ts: float,
                exclude: Exclusions, arrive_min: float, energy: float) -> tuple[float, Station] | None:
    """The first of `choices` (a city's usable stations, fastest first) whose stop window, arriving `arrive_min`
    after `departure` to charge `energy`, is not excluded (nor busy); None when every one is."""
    busy, windows = exclude.busy, exclude.windows
    for power, station in choices:
        if windows:
            arrive_at = departure + timedelta(minutes=arrive_min)
            if exclude.blocks(station.id, *stop_window(arrive_at, arrive_at + timedelta(
                    minutes=60.0 * energy / power))):
                continue
        if busy is not None:
            arrive = departure_ts + 60.0 * arrive_min
            if busy(station, power, *stop_window_ts(arrive, arrive + 3600.0 * energy / power)):
                continue
        return power, station
    return None


class _Search:
    """One planning problem: the network as this vehicle may use it, with some stations banned."""

    def __init__(self, network: Network, origin: str, destination: str, departure: datetime,
                 vehicle: Vehicle, exclude: Exclusions, speed_kmh: float,
                 options: PlanOptions = DEFAULT_OPTIONS) -> None:
        self.network, self.origin, self.destination = network, origin, destination
        self.departure, self.vehicle, self.exclude = departure, vehicle, exclude
        self.departure_ts = departure.timestamp()
        self.timed = exclude.timed
        self.speed = speed_kmh * vehicle.profile.speed_factor / 60.0  # km per minute
        self.use = vehicle.effective_consumption
        self.cap, self.reserve = vehicle.capacity_kwh, vehicle.reserve_kwh
        # The driver's options: how full a stop may fill, and the least charge at a charger / the destination.
        self.top = self.cap * options.max_charge_fraction
        self.at_stop = self.reserve if options.stop_arrival_kwh is None else options.stop_arrival_kwh
        self.at_end = self.reserve if options.arrival_kwh is None else options.arrival_kwh
        self.penalty = options.stop_penalty_minutes
        self.per_stop = self.top - self.at_stop  # the most one stop can add (arriving at the floor, leaving at top)
        self.max_leg_km = max(self.top - min(self.at_stop, self.at_end), 0.0) / self.use
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
        for in_city in self.by_city.values():
            in_city.sort(key=lambda ps: (-ps[0], ps[1].id))
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

    def floor(self, node: str) -> float:
        """The least charge on arriving at `node`: the destination's, or a charger's."""
        return self.at_end if node == self.destination else self.at_stop

    def h(self, city: str, level: float) -> float:
        """A lower bound on the minutes left: driving the shortest road, charging the deficit at top speed.

        It never decreases by more than an edge costs, so A* pops the destination first at its optimum.
        """
        km = self.to_dest.get(city, 0.0)
        deficit = km * self.use + self.at_end - level
        if deficit <= 0:
            return km / self.speed
        # With a stop penalty, the stops still needed count too: a stop adds at most `per_stop` kWh, so at
        # least ceil(deficit / per_stop) more stops (each stop lowers this by at most one: still consistent).
        stops = math.ceil(deficit / self.per_stop - EPS) if self.penalty > 0 and self.per_stop > EPS else 0
        return km / self.speed + 60.0 * deficit / self.best_power + self.penalty * stops

    def charge_at(self, city: str, arrive_min: float, energy: float) -> tuple[float, Station] | None:
        """The fastest station in `city` whose stop window is not excluded (nor busy), or None."""
        return _first_free(self.by_city.get(city, ()), self.departure, self.departure_ts, self.exclude,
                           arrive_min, energy)

    def run(self) -> _Label | tuple[str, float]:
        """The fastest arrival at the destination, or (the closest city reached, its km to go)."""
        start = _Label(self.origin, self.vehicle.charge_kwh, 0.0, None, None, 0.0, 0.0, 0.0)
        counter = itertools.count()
        heap: list[tuple[float, int, int, _Label]] = [(self.h(self.origin, start.level), 0, 0, start)]
        penalty = self.penalty
        settled: dict[str, list[tuple[float, float]]] = {}
        closest = (self.origin, self.to_dest.get(self.origin, float("inf")))
        while heap:
            _, stops, _, label = heapq.heappop(heap)
            node = label.node
            if node == self.destination:
                return label
            if self._dominated(settled.setdefault(node, []), label, self.power(node)):
                continue
            settled[node].append((label.level, label.cost(penalty)))
            if self.to_dest.get(node, float("inf")) < closest[1]:
                closest = (node, self.to_dest[node])

            def push(new: _Label, n_stops: int) -> None:
                heapq.heappush(heap, (new.cost(penalty) + self.h(new.node, new.level), n_stops, next(counter), new))

            if label.parent is None:  # the origin: drive on the charge the car has, without stopping
                for km, target in self.targets(node):
                    level = label.level - km * self.use
                    if level < self.floor(target) - EPS:
                        continue  # (targets are nearest first, but a charger and the destination differ)
                    push(_Label(target, level, km / self.speed, label, None, 0.0, 0.0, km), stops)
            if node not in self.by_city:
                continue
            here_power = self.power(node)
            for km, target in self.targets(node):
                drive = km / self.speed
                floor = self.floor(target)
                need = floor + km * self.use - label.level
                if need > EPS and label.level + need <= self.top + EPS:  # just enough to arrive at the floor
                    self._charge_and_go(label, target, km, drive, need, floor, stops, push)
                # Fill up (to the most a stop may charge) only when the next stop is slower: charging here is
                # then the better buy.
                if target != self.destination and self.power(target) < here_power - EPS \
                        and self.top - label.level > EPS and self.top - km * self.use >= floor - EPS:
                    self._charge_and_go(label, target, km, drive, self.top - label.level,
                                        self.top - km * self.use, stops, push)
        return closest

    def _charge_and_go(self, label: _Label, target: str, km: float, drive: float, energy: float,
                       arrive_level: float, stops: int, push: Callable[[_Label, int], None]) -> None:
        found = self.charge_at(label.node, label.t, energy)
        if found is None:
            return
        power, station = found
        t = label.t + 60.0 * energy / power + drive
        push(_Label(target, arrive_level, t, label, station, power, energy, km, label.stops + 1), stops + 1)

    def _dominated(self, settled: list[tuple[float, float]], label: _Label, power: float) -> bool:
        """Another arrival here was no later with no less charge, or was earlier by more than
        charging up to this label's level takes (then it can do all this label can, no later).
        """
        # With excluded windows or busy points the fastest station may be blocked at some times, and above the
        # most a stop may charge topping up is impossible: keep to the plain rule there, which holds whatever
        # station is used.
        plain_only = self.timed or label.level > self.top + EPS
        top_up = 60.0 / power if power > 0 and not plain_only else None
        cost = label.cost(self.penalty)
        for lvl, c in settled:
            if lvl >= label.level - EPS and c <= cost + EPS:
                return True
            # Topping up here is one stop more: it costs the penalty too.
            if top_up is not None and c + self.penalty + (label.level - lvl) * top_up <= cost + EPS:
                return True
        return False


def _chain(final: _Label) -> tuple[_Label, ...]:
    """The labels from the origin to `final`."""
    chain: list[_Label] = []
    label: _Label | None = final
    while label is not None:
        chain.append(label)
        label = label.parent
    return tuple(reversed(chain))


class _StopAt(NamedTuple):
    """A stop of a `_Route`: arriving `arrive_min` after the departure."""

    station: Station
    city: str
    power: float
    arrive_min: float
    arrive_kwh: float
    energy: float
    minutes: float  # charging
    price: Price


@dataclass(frozen=True)
class _Route:
    """A plan without its clock: times in minutes from the departure, costs in cents. `at` gives the Plan."""

    origin: str
    destination: str
    path: tuple[str, ...]
    stops: tuple[_StopAt, ...]
    distance: float
    driving: float
    charging: float
    total: float
    arrival_kwh: float
    costs: dict[str, int]  # cents, by company

    def at(self, departure: datetime) -> Plan:
        """This route leaving at `departure`."""
        stops: list[Stop] = []
        for s in self.stops:
            arrive = departure + timedelta(minutes=s.arrive_min)
            depart = arrive + timedelta(minutes=s.minutes)
            start, end = stop_window(arrive, depart)
            stops.append(Stop(station_id=s.station.id, company_id=s.station.company_id, city_id=s.city,
                              power_kw=s.power, arrive_at=arrive, arrive_kwh=s.arrive_kwh, energy_kwh=s.energy,
                              charge_minutes=s.minutes, depart_at=depart, window_start=start, window_end=end,
                              cost=s.price.total / 100, price=s.price))
        return Plan(origin=self.origin, destination=self.destination, departure=departure, path=self.path,
                    stops=tuple(stops), arrival=departure + timedelta(minutes=self.total),
                    distance_km=self.distance, driving_minutes=self.driving, charging_minutes=self.charging,
                    total_minutes=self.total, arrival_kwh=self.arrival_kwh,
                    cost_by_company={c: v / 100 for c, v in self.costs.items()})


def _route(network: Network, origin: str, destination: str, speed: float, chain: Sequence[_Label]) -> _Route:
    """The chain of labels as a route: the road, the stops and what they cost (`speed` in km per minute)."""
    stops: list[_StopAt] = []
    path: list[str] = [origin]
    costs: dict[str, int] = {}  # cents
    distance = charging = 0.0
    for prev, nxt in itertools.pairwise(chain):
        leg = network.road_path(prev.node, nxt.node)
        path.extend(leg[1:])
        distance += nxt.km
        if nxt.station is not None:
            minutes = 60.0 * nxt.energy / nxt.power
            charging += minutes
            company = nxt.station.company_id
            # Planned: the energy and the minutes charging; idle is 0 (the car leaves when it is done).
            price = network.tariff(nxt.station.id).price(nxt.energy, minutes)
            costs[company] = costs.get(company, 0) + price.total
            stops.append(_StopAt(nxt.station, prev.node, nxt.power, prev.t, prev.level, nxt.energy, minutes, price))
    final = chain[-1]
    return _Route(origin=origin, destination=destination, path=tuple(path), stops=tuple(stops), distance=distance,
                  driving=distance / speed, charging=charging, total=final.t, arrival_kwh=final.level, costs=costs)


def _build(search: _Search, final: _Label) -> Plan:
    """Turn the chain of labels into a Plan with clock times and costs."""
    return _route(search.network, search.origin, search.destination, search.speed, _chain(final)).at(search.departure)


class _Refused(NamedTuple):
    """A refusal as kept in the cache (a fresh Unreachable is raised each time: a raised one carries its frames)."""

    reason: str
    code: str


@dataclass(frozen=True)
class _Solved:
    """The optimum of a problem without busy points or excluded windows (the *untimed* one): what the cache keeps.

    The untimed search never reads the clock, so its optimum holds for any departure. With busy points or
    windows a plan can only cost more (a stop's fastest station taken means a slower one, or another way);
    so when every stop of this one still finds a station as fast at the new times, it is an optimum there too —
    no worse than the timed search's plan, and better where that search, which keeps only the earliest arrival
    per state, missed it (docs/planner.md, "Exclusions").
    """

    route: _Route
    chain: tuple[_Label, ...]
    choices: tuple[tuple[tuple[float, Station], ...], ...]  # for each stop, its city's usable stations, fastest first
    speed: float  # km per minute

    @classmethod
    def of(cls, search: _Search, final: _Label) -> _Solved:
        """What an untimed search found."""
        chain = _chain(final)
        choices = tuple(tuple(search.by_city[prev.node]) for prev, nxt in itertools.pairwise(chain)
                        if nxt.station is not None)
        return cls(_route(search.network, search.origin, search.destination, search.speed, chain), chain, choices,
                   search.speed)

    def at(self, network: Network, departure: datetime, exclude: Exclusions) -> Plan | None:
        """This optimum leaving at `departure` around `exclude`'s busy points and windows; None when a stop finds
        no station as fast as planned free at its new times (then only a full search can tell)."""
        if not exclude.timed:
            return self.route.at(departure)
        departure_ts = departure.timestamp()
        swaps: dict[int, Station] = {}
        for i, (stop, choices) in enumerate(zip(self.route.stops, self.choices, strict=True)):
            # The very check the search makes at this stop: its answer is the search's station here.
            found = _first_free(choices, departure, departure_ts, exclude, stop.arrive_min, stop.energy)
            if found is None or found[0] != stop.power:
                return None
            if found[1] is not stop.station:
                swaps[i] = found[1]  # as fast, same minutes; another company's tariff maybe
        if not swaps:
            return self.route.at(departure)
        chain, n = [], 0
        for label in self.chain:
            if label.station is not None:
                label = label._replace(station=swaps.get(n, label.station))
                n += 1
            chain.append(label)
        return _route(network, self.route.origin, self.route.destination, self.speed, chain).at(departure)


def _from_cache(cache: PlanCache, network: Network, origin: str, destination: str, departure: datetime,
                vehicle: Vehicle, exclude: Exclusions, speed_kmh: float,
                options: PlanOptions) -> Plan | Unreachable | None:
    """The answer from the cache's untimed optimum (solved now if worth keeping); None when a full search must
    decide: the first time a timed problem is asked, or when a stop of the optimum is taken at these times.

    A refusal of the untimed problem is the answer to every timed one too: what is taken only removes stations.
    """
    # Everything the untimed search reads — and the vehicle and options whole, so that a field added to either
    # is in the key too. Not the departure, nor busy points or windows: those are checked on the way out.
    key = (origin, destination, vehicle, options, speed_kmh, exclude.points, exclude.stations)
    solved = cache.get(network, key)
    kept = solved is not None
    if solved is None:
        cache.stats.misses += 1
        if exclude.timed and not cache.admit(network, key):
            return None
        untimed = _Search(network, origin, destination, departure, vehicle,
                          Exclusions(exclude.points, exclude.stations), speed_kmh, options)
        found = untimed.run()
        if isinstance(found, _Label):
            solved = _Solved.of(untimed, found)
        else:
            refusal = _refusal(untimed, found[0], vehicle)
            solved = _Refused(refusal.reason, refusal.code)
        cache.put(network, key, solved)
    if isinstance(solved, _Refused):
        if kept:
            cache.stats.hits += 1
        return Unreachable(solved.reason, solved.code)
    assert isinstance(solved, _Solved)
    plan = solved.at(network, departure, exclude)
    if plan is None:
        cache.stats.stale += 1
    elif kept:
        cache.stats.hits += 1
    return plan


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
              options: PlanOptions = DEFAULT_OPTIONS, max_searches: int = MAX_ALTERNATIVE_SEARCHES,
              cache: PlanCache | None = None) -> list[Plan]:
    """Up to `k` distinct plans from `origin` to `destination`, fastest first (driving + charging).

    Raises UnknownCity for a city not in the network and Unreachable (with a code) when the car
    cannot make the trip. The alternatives after the first are the fastest plans that avoid one
    more station of a plan already found (Yen's idea, on stations instead of roads), after at most
    `max_searches` searches. `options` are the driver's (PlanOptions); with a stop penalty, "fastest"
    counts each stop as that much more.

    With a `cache` (one per server), a problem asked again costs a check of its stops instead of a search: the
    best plan with nothing taken, re-timed, when every stop of it is still free at its new times (else the
    search runs) — as good as the search's plan (see `_Solved`).
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
        if cache is not None:
            known = _from_cache(cache, network, origin, destination, departure, vehicle, ex, speed_kmh, options)
            if known is not None:
                return known
        search = _Search(network, origin, destination, departure, vehicle, ex, speed_kmh, options)
        found = search.run()
        return _build(search, found) if isinstance(found, _Label) else _refusal(search, found[0], vehicle)

    def rank(plan: Plan) -> float:
        return plan.total_minutes + options.stop_penalty_minutes * len(plan.stops)

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
                heapq.heappush(queue, (rank(alt), len(alt.stops), next(counter), alt, more))

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
    return sorted(plans, key=lambda p: (rank(p), len(p.stops)))


#: A plan this much longer than the shortest road (and 5 km) has taken another road: say why.
DETOUR_SHARE = 0.03


def detour_reason(network: Network, plan: Plan, vehicle: Vehicle, *, exclude: Exclusions = NO_EXCLUSIONS,
                  options: PlanOptions = DEFAULT_OPTIONS) -> str | None:
    """Why `plan` leaves the shortest road (e.g. inland instead of the coast), in a sentence; None if it does not.

    The usual reason is a stretch of the shortest road longer than the car's range on a charge with no
    station it can use; otherwise the other road's stations make the trip faster.
    """
    shortest = network.shortest_km(plan.origin).get(plan.destination)
    if shortest is None or plan.distance_km <= shortest * (1 + DETOUR_SHARE) + 5:
        return None
    search = _Search(network, plan.origin, plan.destination, plan.departure, vehicle, exclude, 80.0, options)
    road = network.road_path(plan.origin, plan.destination)
    names = [network.city(c).name for c in road]
    at_km = [0.0]
    for a, b in itertools.pairwise(road):
        at_km.append(at_km[-1] + network.shortest_km(a)[b])
    # Where the car could charge along the shortest road (its ends count: it leaves charged, arrives).
    chargers = [i for i, c in enumerate(road) if c in search.by_city or i in (0, len(road) - 1)]
    gap, start, end = max(((at_km[j] - at_km[i], i, j) for i, j in itertools.pairwise(chargers)),
                          default=(0.0, 0, 0))
    longer = plan.distance_km - shortest
    via = " – ".join(names[1:-1][:3]) or "the direct road"
    if gap > search.max_leg_km:
        return (f"The shortest road ({shortest:.0f} km, via {via}) has no charging station this car can use for "
                f"{gap:.0f} km, between {names[start]} and {names[end]} — more than it drives on a charge "
                f"({search.max_leg_km:.0f} km). This route is {longer:.0f} km longer, with stations on the way.")
    return (f"The shortest road ({shortest:.0f} km, via {via}) is {longer:.0f} km shorter, but with its stations "
            "the trip would take longer: this route's chargers are faster or better placed.")
