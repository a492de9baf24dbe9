"""Planner benchmark (run by hand): `.venv/bin/python bench/planner.py [--pairs N] [--seed S]`.

1. The real network: every ordered pair of cities, for three cars in turn.
2. A generated network of 2,000 stations in 700 cities over the Northeast's size, random pairs.

Prints p50 / p99 / max of the time of one `plan_trip` call, with the road
distances already cached (what a running server sees), and the one-off cost
of that cache. Refusals (Unreachable) are timed too: a server answers them.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.world.network import Network, load_network
from servers.world.planner import Unreachable, plan_trip
from servers.world.synthetic import random_network
from servers.world.vehicles import DrivingProfile, Vehicle

T0 = datetime(2025, 6, 1, 8, 0)
CARS = (
    Vehicle(60.0, 0.16, 48.0, max_ac_kw=11.0, max_dc_kw=100.0),  # a 60 kWh car at 80 %
    Vehicle(44.9, 0.145, 30.0, max_ac_kw=6.6, max_dc_kw=60.0, profile=DrivingProfile.AGGRESSIVE),  # Dolphin
    Vehicle(82.5, 0.165, 82.5, max_ac_kw=11.0, max_dc_kw=150.0, profile=DrivingProfile.ECONOMIC),  # Seal
)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400, help="random trips on the generated network")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{datetime.now():%Y-%m-%d}")
    real = load_network()
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
