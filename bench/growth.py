"""Does a booking cost more as the log grows? Run by hand: `python bench/growth.py [--events 0,100000,1000000]`.

For each size, the three companies' logs are first given a history written by the real services in one
process (the in-process fakes of the tests, on SQLite files, with a clock that runs from a year ago to
yesterday): drivers of VoltPoint book Salvador → Fortaleza (three companies) trip after trip, some charge
at their first stop, the rest are no-shows, some cancel — until VoltPoint's log holds that many events.
Then the real network starts on those logs (replaying them: the start time is reported) and a storm of
`--storm` vehicles books the Vitória da Conquista → Fortaleza corridor at once, as in bench/booking.py.
Reported per size: events in each log, each server's start (replay) time and RSS, confirmed/s, p50/p99,
and the servers' CPU per confirmed trip.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.booking import CORRIDOR, cpu_s, pids, rss_mib  # noqa: E402
from contract.models import CheckInIn, TripIn  # noqa: E402
from events.store import SqliteEventStore  # noqa: E402
from federation.launcher import LocalNetwork  # noqa: E402
from servers.world.network import load_network  # noqa: E402
from tests.servers.fakes import Clock, InProcessPeers, build_node, signup  # noqa: E402
from vehicle_sim.config import load_endpoints  # noqa: E402
from vehicle_sim.storm import close_all, prepare_vehicles, spread, storm  # noqa: E402

DRIVERS = 400
EVENTS_PER_TRIP = 14  # about, on VoltPoint's log (measured)
HISTORY_DAYS = 365


def write_history(directory: Path, events: int, seed: int = 1) -> dict[str, Path]:
    """Logs of the three companies in which VoltPoint's holds about `events` events of past trips.

    Time runs as it would: a driver books a trip a few hours ahead, and charges at its first stop when the
    clock gets there (half of them; the others are no-shows). The clock moves a few minutes per booking so
    that the whole history fits between a year ago and yesterday: a log whose times lie in the future
    would expire the storm's sessions at once.
    """
    network = load_network()
    paths = {c.id: directory / f"{c.id}.db" for c in network.companies}
    if events == 0:
        return paths
    rng = random.Random(seed)
    now = datetime.now(UTC)
    clock = Clock(now - timedelta(days=HISTORY_DAYS))
    step_minutes = min(5.0, 0.9 * (HISTORY_DAYS - 1) * 1440 / max(events / EVENTS_PER_TRIP, 1))
    peers = InProcessPeers()
    stores = {c: SqliteEventStore(p, synchronous="NORMAL") for c, p in paths.items()}  # a history: no fsyncs
    nodes = {c: build_node(network, c, peers, clock, store=stores[c]) for c in paths}  # type: ignore[arg-type]
    home = nodes["voltpoint"]
    drivers = [signup(home, n, credit=10_000.0) for n in range(DRIVERS)]
    free_from = {d: clock.now for d in drivers}
    charging: list[tuple[datetime, int, str, str]] = []  # (first window opens, n, driver, trip): a heap
    n = 0
    while stores["voltpoint"].head() < events and clock.now < now - timedelta(days=1):
        n += 1
        clock.advance(minutes=step_minutes * rng.uniform(0.5, 1.5))
        while charging and charging[0][0] <= clock.now:
            _, _, driver, trip_id = heapq.heappop(charging)
            home.coordinator.check_in(driver, CheckInIn(trip_id=trip_id, stop=0, action="start"))
            home.coordinator.check_in(driver, CheckInIn(trip_id=trip_id, stop=0, action="finish"))
        if n % 200 == 0:
            for node in nodes.values():
                node.participant.record_no_shows(clock.now)
        driver = drivers[n % DRIVERS]
        departure = max(free_from[driver], clock.now) + timedelta(hours=rng.uniform(1, 6))
        reply = home.coordinator.book(driver, f"h{n}", TripIn(origin="salvador", destination="fortaleza",
                                                                 departure=departure))
        if reply["status"] != "RESERVED":
            if reply.get("code") == "INSUFFICIENT_CREDIT":
                home.accounts.add_credit(driver, 10_000.0, f"top-up-{n}")
            continue
        free_from[driver] = datetime.fromisoformat(reply["plan"]["arrival"])
        if rng.random() < 0.1:
            home.coordinator.cancel(driver, reply["trip_id"])
        elif rng.random() < 0.5:
            opens = datetime.fromisoformat(reply["stops"][0]["window_start"])
            heapq.heappush(charging, (opens, n, driver, reply["trip_id"]))
    for store in stores.values():
        store.close()
    return paths


def measure(directory: Path, paths: dict[str, Path], vehicles: int) -> dict:
    net = LocalNetwork(directory / "net", free_ports=True, mqtt=True, log_paths=paths,
                       env={"RECARGA_SYNCHRONOUS": "FULL"})
    began = time.monotonic()
    net.start(timeout=600)
    started = time.monotonic() - began
    try:
        endpoints = load_endpoints(net.clients_file)
        procs = pids(net)
        heads = {}
        for cid, path in paths.items():
            with SqliteEventStore(path, create=False) as store:
                heads[cid] = store.head()

        async def run() -> tuple:
            cars = await prepare_vehicles(endpoints, vehicles, seed=vehicles)
            await asyncio.sleep(1.0)
            before = {name: cpu_s(pid) for name, pid in procs.items()}
            result = await storm(cars, *CORRIDOR, spread(vehicles, days=30), timeout=60)
            await close_all(cars)
            return result, before

        result, before = asyncio.run(run())
        violations, _ = net.settle(timeout=60)
        after = {name: cpu_s(pid) for name, pid in procs.items()}
        servers = sum(after[c] - before[c] for c in net.companies)
        summary = result.summary()
        summary.update({"log_events": heads, "start_s": round(started, 1), "violations": len(violations),
                        "servers_cpu_ms_per_confirmed": round(1000 * servers / max(result.confirmed, 1), 2),
                        "rss_mib": {c: round(rss_mib(procs[c]), 1) for c in net.companies}})
        return summary
    finally:
        net.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="0,100000,1000000", help="sizes of VoltPoint's log before the storm")
    parser.add_argument("--storm", type=int, default=300, help="vehicles at once")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for size in [int(x) for x in args.events.split(",")]:
        with tempfile.TemporaryDirectory(prefix="recarga-growth-") as tmp:
            t = time.monotonic()
            paths = write_history(Path(tmp), size)
            written = time.monotonic() - t
            row = measure(Path(tmp), paths, args.storm)
            row.update({"history_events": size, "history_written_s": round(written, 1)})
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\nrecarga growth bench — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| VoltPoint's log before | events (VP / EF / EC) | start | storm of "
          f"{args.storm}: confirmed/s | p50 / p99 ms | servers' CPU per confirmed trip | RSS VP / EF / EC |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ev, rss, lat = r["log_events"], r["rss_mib"], r["latency_ms"]
        print(f"| {r['history_events']:,} | {ev['voltpoint']:,} / {ev['eflux']:,} / {ev['ecocharge']:,} | "
              f"{r['start_s']} s | {r['confirmed_per_s']} | {lat['p50']} / {lat['p99']} | "
              f"{r['servers_cpu_ms_per_confirmed']} ms | {rss['voltpoint']:.0f} / {rss['eflux']:.0f} / "
              f"{rss['ecocharge']:.0f} MiB |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
