"""Planner benchmark (run by hand): `.venv/bin/python bench/planner.py [--pairs N] [--seed S] [--runs N]
[--corridor-only]`.

1. The real network: every ordered pair of cities, for three cars in turn.
2. A generated network of 2,000 stations in 700 cities over the Northeast's size, random pairs.
3. The plan cache (issue #12): the storms' car planning one road `--runs` times at other departures, without
   a cache and with one — on the real network's storm corridor (Vitória da Conquista → Fortaleza) and on the
   storms' generated 2,000-station network (bench/booking.py's `generated_network`). Three cases: nothing
   taken; a storm over 30 days (each plan books its points); the corridor storm within 10 hours (most stops
   soon taken: the cache's plan often no longer fits and the full search runs after its check).

Prints p50 / p99 / max of the time of one `plan_trip` call, with the road
distances already cached (what a running server sees), and the one-off cost
of that cache. Refusals (Unreachable) are timed too: a server answers them.
"""

from __future__ import annotations

import argparse
import bisect
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.world.network import Network, Station, load_network
from servers.world.planner import Exclusions, Plan, PlanCache, Unreachable, plan_trip
from servers.world.synthetic import random_network
from servers.world.vehicles import DrivingProfile, Vehicle

T0 = datetime(2025, 6, 1, 8, 0)
CARS = (
    Vehicle(60.0, 0.16, 48.0, max_ac_kw=11.0, max_dc_kw=100.0),  # a 60 kWh car at 80 %
    Vehicle(44.9, 0.145, 30.0, max_ac_kw=6.6, max_dc_kw=60.0, profile=DrivingProfile.AGGRESSIVE),  # Dolphin
    Vehicle(82.5, 0.165, 82.5, max_ac_kw=11.0, max_dc_kw=150.0, profile=DrivingProfile.ECONOMIC),  # Seal
)

STORM_CAR = Vehicle(60.0, 0.16, 54.0, max_ac_kw=11.0, max_dc_kw=100.0)  # vehicle_sim.storm's STORM_CAR
CORRIDOR = ("vitoria-da-conquista", "fortaleza")


def percentile(sorted_ms: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of an ascending list."""
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q / 100 * len(sorted_ms)) - 1))]


def run(network: Network, pairs: list[tuple[str, str]], label: str, k: int = 1) -> None:
    """Time one plan per pair and print the figures."""
    start = time.perf_counter()
    for city in network.cities:  # fill the per-city shortest-road cache, as a running server has it
        network.shortest_km(city.id)
    warm = time.perf_counter() - start
    times: list[float] = []
    refused = stops = 0
    for i, (a, b) in enumerate(pairs):
        car = CARS[i % len(CARS)]
        t = time.perf_counter()
        try:
            plans = plan_trip(network, a, b, T0, car, k=k)
            stops += len(plans[0].stops)
        except Unreachable:
            refused += 1
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"{label}, k={k}: {len(network.cities)} cities, {len(network.roads)} roads, {len(network.stations)} stations;"
          f" {len(pairs)} trips ({refused} unreachable, {stops / max(1, len(pairs) - refused):.1f} stops per plan)")
    print(f"  road cache, once: {warm * 1000:.0f} ms")
    print(f"  plan_trip: p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms, "
          f"max {times[-1]:.2f} ms, mean {statistics.fmean(times):.2f} ms")


class Taken:
    """Points booked, as a server's Availability sees them: each stop holds one point fast enough for its window."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[list[float], list[float]]] = {}  # point -> starts, ends (never overlapping)
        self._points: dict[str, list[tuple[str, float]]] = {}

    def points(self, station: Station) -> list[tuple[str, float]]:
        found = self._points.get(station.id)
        if found is None:
            found = self._points[station.id] = sorted(((p.id, p.power_kw) for p in station.points),
                                                      key=lambda pk: -pk[1])
        return found

    def free(self, point_id: str, s: float, e: float) -> bool:
        starts, ends = self.windows.get(point_id, ([], []))
        i = bisect.bisect_left(starts, e)
        return i == 0 or ends[i - 1] <= s

    def busy(self, station: Station, kw: float, s: float, e: float) -> bool:
        """The planner's question: is every point of `station` fast enough taken for [s, e)?"""
        for point_id, power in self.points(station):
            if power + 1e-9 < kw:
                break
            if self.free(point_id, s, e):
                return False
        return True

    def book(self, network: Network, plan: Plan) -> None:
        """Hold a point for each stop of `plan`, as a prepare would."""
        for stop in plan.stops:
            s, e = stop.window_start.timestamp(), stop.window_end.timestamp()
            for point_id, power in self.points(network.station(stop.station_id)):
                if power + 1e-9 >= stop.power_kw and self.free(point_id, s, e):
                    starts, ends = self.windows.setdefault(point_id, ([], []))
                    i = bisect.bisect_left(starts, s)
                    starts.insert(i, s)
                    ends.insert(i, e)
                    break


def p50(samples: list[float]) -> str:
    """The median in ms, or a dash for none."""
    return f"{percentile(sorted(samples), 50):.3f} ms" if samples else "-"


def corridor(network: Network, origin: str, destination: str, label: str, runs: int) -> None:
    """The same road planned `runs` times at other departures, without a cache and with one.

    The two take turns at each departure, each with its own points taken (what its own plans booked), so that
    the load of a shared machine falls on both alike.
    """
    t0 = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)
    rng = random.Random(1)
    cases = {"nothing taken": ([t0 + timedelta(minutes=53 * i, seconds=7 * i) for i in range(runs)], False),
             "storm over 30 days": ([t0 + timedelta(days=30) / runs * i for i in range(runs)], True),
             "corridor storm within 10 h": ([t0 + timedelta(hours=rng.uniform(0, 10)) for _ in range(runs)], True)}
    plain = plan_trip(network, origin, destination, t0, STORM_CAR)[0]
    print(f"{label}: {origin} → {destination} ({plain.distance_km:.0f} km, {len(plain.stops)} stops at"
          f" {len(plain.cost_by_company)} companies), the storms' car, {runs} departures per case")
    for case, (departures, book) in cases.items():
        cache = PlanCache()
        taken = {"search": Taken(), "cache": Taken()}
        ms: dict[str, list[float]] = {"search": [], "hit": [], "stale": [], "miss": []}
        same = refused = 0
        for departure in departures:
            found: dict[str, tuple[str, ...] | None] = {}
            for way, with_cache in (("search", None), ("cache", cache)):
                before = (cache.stats.hits, cache.stats.stale)
                t = time.perf_counter()
                try:
                    plan: Plan | None = plan_trip(network, origin, destination, departure, STORM_CAR,
                                                  exclude=Exclusions(busy=taken[way].busy), cache=with_cache)[0]
                except Unreachable:
                    plan = None
                took = (time.perf_counter() - t) * 1000
                outcome = "search" if with_cache is None else "stale" if cache.stats.stale > before[1] else \
                    "hit" if cache.stats.hits > before[0] else "miss"
                ms[outcome].append(took)
                found[way] = plan.station_ids if plan is not None else None
                if book and plan is not None:
                    taken[way].book(network, plan)
            same += found["search"] == found["cache"]
            refused += found["search"] is None
        searched = sorted(ms["search"])
        cached = sorted(ms["hit"] + ms["stale"] + ms["miss"])

        print(f"  {case}: without the cache p50 {percentile(searched, 50):.3f} ms (mean"
              f" {statistics.fmean(searched):.3f}); with it p50 {percentile(cached, 50):.3f} ms (mean"
              f" {statistics.fmean(cached):.3f}) — {len(ms['hit'])} hits (p50 {p50(ms['hit'])}),"
              f" {len(ms['stale'])} with a stop taken (p50 {p50(ms['stale'])}), {len(ms['miss'])} misses (p50"
              f" {p50(ms['miss'])}); the same stations (or refusal) as without {same}/{runs}; {refused} refused")


def through_the_server(runs: int) -> None:
    """`TripPlanner.plan` as a coordinator calls it (the server's Availability as `busy`, nothing taken), on an
    in-process test node: the corridor at `runs` departures, without the cache and with it, in turns."""
    from contract.models import TripIn
    from tests.servers.fakes import START, Clock, build_nodes, signup

    nodes, _ = build_nodes(load_network(), Clock(START))
    home = nodes["voltpoint"]
    vid = signup(home)
    planner, cache = home.planner, home.planner.cache
    ms: dict[bool, list[float]] = {False: [], True: []}
    for i in range(runs):
        trip = TripIn(origin=CORRIDOR[0], destination=CORRIDOR[1],
                      departure=START + timedelta(hours=2, minutes=53 * i, seconds=7 * i))
        for with_cache in (False, True):
            planner.cache = cache if with_cache else None  # type: ignore[assignment]  # None: plan_trip's default
            t = time.perf_counter()
            planner.plan(trip, planner.vehicle_of(vid, trip), planner.exclusions((), asked=START))
            ms[with_cache].append((time.perf_counter() - t) * 1000)
    planner.cache = cache
    print(f"TripPlanner.plan (the server's Availability, nothing taken), {runs} departures: without the cache"
          f" p50 {p50(ms[False])}, with it p50 {p50(ms[True])} ({cache.stats.hits} hits)")


def storm_network(directory: Path) -> tuple[Network, tuple[str, str]]:
    """bench/booking.py's generated 2,000-station network for storms (3 companies) and its route."""
    from bench.booking import generated_network  # the live network's bench: its imports only when asked

    path, route = generated_network(directory, 2000, 3)
    return road_cached(load_network(path)), route


def road_cached(network: Network) -> Network:
    """`network` with its shortest-road cache filled, as a running server has it."""
    for city in network.cities:
        network.shortest_km(city.id)
    return network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400, help="random trips on the generated network")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=300, help="departures per case of the plan cache's bench")
    parser.add_argument("--corridor-only", action="store_true", help="only the plan cache's bench")
    args = parser.parse_args()
    print(f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{datetime.now():%Y-%m-%d}")
    real = load_network()
    corridor(road_cached(load_network()), *CORRIDOR, "real network", args.runs)  # (its own: run() times the roads)
    through_the_server(args.runs)
    with tempfile.TemporaryDirectory() as directory:
        generated, route = storm_network(Path(directory))
    corridor(generated, *route, "generated network (2,000 stations, 3 companies)", args.runs)
    if args.corridor_only:
        return
    ids = [c.id for c in real.cities]
    run(real, [(a, b) for a in ids for b in ids if a != b], "real network")
    run(real, [(a, b) for a in ids for b in ids if a != b], "real network", k=3)
    rng = random.Random(args.seed)
    t = time.perf_counter()
    big = random_network(rng, 700, 2000, n_companies=3, box=(-16.0, -3.0, -46.0, -35.0), neighbours=3)
    print(f"generated the 2,000-station network in {time.perf_counter() - t:.1f} s")
    ids = [c.id for c in big.cities]
    run(big, [tuple(rng.sample(ids, 2)) for _ in range(args.pairs)], "generated network")  # type: ignore[misc]
    run(big, [tuple(rng.sample(ids, 2)) for _ in range(args.pairs // 4)], "generated network", k=3)  # type: ignore[misc]


if __name__ == "__main__":
    main()
