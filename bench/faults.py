"""Charger faults during a fleet run, run by hand: who is re-booked, how soon the driver hears, and that nothing
breaks. `python bench/faults.py [--vehicles 300] [--fail 0.05] [--json out.json]`

A fresh network (Mosquitto, servers, SQLite on loopback). `--vehicles` cars sign up and book trips on a few
routes across the three companies, departures spread over the next two days (a fleet's reservations). Then,
while as many more cars book (the fleet run goes on), a share `--fail` of all the network's points fail at
random moments over 20 s — an operator puts each OUTOFORDER over REST. When the logs have settled:

- affected stops: every reservation not begun whose point failed (`HoldMoved` or `HoldBroken` at the point's
  company — the checker's `fault-rebooked` invariant says none was missed);
- re-booked: moved to another point of the station, or its trip re-booked from the stop before (`TripAmended`);
- not re-booked, split into *no capacity* (the re-plan found nothing around what is taken) and *capacity
  existed* (a plan was found but its prepares were refused) — the share re-booked where capacity exists is
  re-booked / (re-booked + capacity existed);
- the time from a point's failure (the operator's request) to the first notice its drivers receive over MQTT;
- the invariant violations of the three logs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.booking import cpu_s, pids  # noqa: E402
from federation.launcher import LocalNetwork  # noqa: E402
from vehicle_sim.config import load_endpoints  # noqa: E402
from vehicle_sim.fleet import percentile  # noqa: E402
from vehicle_sim.storm import AsyncRpc, close_all, prepare_vehicles  # noqa: E402

ROUTES = [("salvador", "fortaleza"), ("vitoria-da-conquista", "fortaleza"), ("recife", "salvador"),
          ("feira-de-santana", "recife"), ("petrolina", "fortaleza"), ("juazeiro-do-norte", "salvador")]
FAULT_SPAN_S = 20.0


async def book_all(cars: list[AsyncRpc], seed: int, hours: float = 48.0) -> dict[str, AsyncRpc]:
    """Every car books one of the routes, departures spread over `hours`; trip id -> its car."""
    rng = random.Random(seed)
    start = datetime.now(UTC) + timedelta(hours=1)

    async def one(car: AsyncRpc) -> tuple[str | None, AsyncRpc]:
        origin, destination = rng.choice(ROUTES)
        departure = start + timedelta(hours=rng.uniform(0, hours))
        reply = await car.request("book", {"origin": origin, "destination": destination,
                                           "departure": departure.isoformat()}, timeout=120)
        return ((reply.get("result") or {}).get("trip_id") if reply.get("ok") else None), car

    return {trip: car for trip, car in await asyncio.gather(*(one(c) for c in cars)) if trip}


async def fail_points(net: LocalNetwork, points: list[tuple[str, str]], tokens: dict[str, str],
                      seed: int) -> dict[str, float]:
    """Each (point, company) fails at a random moment within FAULT_SPAN_S; point -> when (epoch s)."""
    rng = random.Random(seed)
    when: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        async def one(point: str, company: str) -> None:
            await asyncio.sleep(rng.uniform(0, FAULT_SPAN_S))
            when[point] = time.time()
            r = await http.put(f"{net.companies[company].api_url}/api/v1/points/{point}/status",
                               json={"status": "OUT_OF_ORDER", "reason": "bench fault"},
                               headers={"X-Operator-Token": tokens[company]})
            r.raise_for_status()
        await asyncio.gather(*(one(p, c) for p, c in points))
    return when


def analyse(logs: dict[str, list[Any]], failed_at: dict[str, float],
            cars_of: dict[str, AsyncRpc]) -> dict[str, Any]:
    """The figures, from the three logs and what the cars heard."""
    affected: list[tuple[str, int, str, str]] = []  # (trip, stop, point, MOVED|BROKEN)
    stops_of: dict[tuple[str, str], list[int]] = {}  # (company, hold id) -> stop of each hold
    for company, events in logs.items():
        for e in events:
            d = e.data
            if e.type == "HoldsPlaced":
                stops_of[(company, d["trip_id"])] = [h["stop"] for h in d["holds"]]
            elif e.type in ("HoldMoved", "HoldBroken"):
                stop = stops_of[(company, d["trip_id"])][d["hold_index"]]
                point = d["from_point_id"] if e.type == "HoldMoved" else d["point_id"]
                affected.append((d["trip_id"].partition("~")[0], stop, point,
                                 "MOVED" if e.type == "HoldMoved" else "BROKEN"))
    broken: dict[tuple[str, int], str] = {}  # (trip, stop) -> "" while broken, else how it ended
    last_code: dict[str, str] = {}
    last_reason: dict[str, str] = {}
    for events in logs.values():
        for e in events:
            d = e.data
            if e.type == "TripStopBroken":
                broken.setdefault((d["trip_id"], d["stop"]), "")
            elif e.type == "TripAmended":
                for (trip, stop), outcome in broken.items():
                    if trip == d["trip_id"] and not outcome:
                        broken[(trip, stop)] = "REBOOKED"
            elif e.type == "TripAmendAborted":
                last_code[d["trip_id"]] = d["code"]
                last_reason[d["trip_id"]] = d["reason"]
    moved = sum(1 for *_, kind in affected if kind == "MOVED")
    rebooked = sum(1 for outcome in broken.values() if outcome == "REBOOKED")
    left = [(trip, stop) for (trip, stop), outcome in broken.items() if not outcome]
    # A re-plan that found nothing answers with a planner's code; refusals of a plan found are prepares'.
    capacity_existed = [t for t, _ in left if last_code.get(t) in ("POINT_TAKEN", "YIELDED", "PEER_UNAVAILABLE",
                                                                   "TIMEOUT", "INSUFFICIENT_CREDIT")]
    delays = []
    for trip, _stop, point, _kind in affected:
        car = cars_of.get(trip)
        heard = [t for t, n in (car.notices if car is not None else []) if n.get("trip_id") == trip]
        if heard and point in failed_at:
            delays.append(min(heard) - failed_at[point])
    share = (moved + rebooked) / max(moved + rebooked + len(capacity_existed), 1)
    return {"affected": len(affected), "moved_within_station": moved, "rebooked_elsewhere": rebooked,
            "not_rebooked_no_capacity": len(left) - len(capacity_existed),
            "not_rebooked_capacity_existed": len(capacity_existed),
            "share_rebooked_where_capacity_exists": round(share, 4),
            "not_rebooked": [{"trip": t, "stop": s, "code": last_code.get(t), "reason": last_reason.get(t)}
                             for t, s in left],
            "drivers_told": len(delays),
            "notice_delay_s": {q: round(percentile(delays, p), 2) for q, p in
                               (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))} if delays else {}}


def run(vehicles: int, fail: float, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="recarga-faults-") as tmp:
        net = LocalNetwork(Path(tmp) / "net", free_ports=True, mqtt=True)
        net.start(timeout=60)
        try:
            endpoints = load_endpoints(net.clients_file)
            tokens = {c: v["operator"] for c, v in
                      json.loads((net.run_dir / "service-logins.json").read_text()).items()}
            points = [(p.id, s.company_id) for s in net.network.stations for p in s.points]
            doomed = random.Random(seed).sample(points, max(1, round(fail * len(points))))
            procs = pids(net)

            async def go() -> tuple[dict[str, AsyncRpc], dict[str, float], float]:
                first = await prepare_vehicles(endpoints, vehicles, seed=seed)
                second = await prepare_vehicles(endpoints, vehicles, seed=seed + 1)
                cars_of = await book_all(first, seed)
                before = sum(cpu_s(procs[c]) for c in net.companies)
                more, failed_at = await asyncio.gather(book_all(second, seed + 1), fail_points(net, doomed, tokens,
                                                                                            seed))
                cars_of.update(more)
                await asyncio.to_thread(net.settle, 120)
                await asyncio.sleep(5.0)  # the last notices (re-bookings retried) reach their cars
                cpu = sum(cpu_s(procs[c]) for c in net.companies) - before
                await close_all(first + second)
                return cars_of, failed_at, cpu

            cars_of, failed_at, cpu = asyncio.run(go())
            violations, _ = net.settle(timeout=60)
            summary = analyse(net.read_logs(), failed_at, cars_of)
            summary.update({"vehicles": 2 * vehicles, "trips": len(cars_of), "points_failed": len(doomed),
                            "points": len(points), "violations": [str(v) for v in violations][:10],
                            "servers_cpu_s": round(cpu, 1)})
            return summary
        finally:
            net.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=300, help="cars booking before the faults (and as many during)")
    parser.add_argument("--fail", type=float, default=0.05, help="share of all points that fail")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    s = run(args.vehicles, args.fail, args.seed)
    print(json.dumps(s, indent=1))
    delay = s["notice_delay_s"]
    print(f"\nrecarga faults bench — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| figure | value | goal |\n|---|---|---|")
    print(f"| trips booked ({s['vehicles']} cars), points failed | {s['trips']}, {s['points_failed']} of "
          f"{s['points']} | — |")
    print(f"| affected stops: moved within the station / re-booked elsewhere / not re-booked (no capacity; "
          f"capacity existed) | {s['moved_within_station']} / {s['rebooked_elsewhere']} / "
          f"{s['not_rebooked_no_capacity']}; {s['not_rebooked_capacity_existed']} | — |")
    print(f"| share re-booked where capacity exists | {100 * s['share_rebooked_where_capacity_exists']:.1f} % "
          "| ≥ 99 % |")
    if delay:
        print(f"| fault → driver's notice, p50 / p95 / p99 / max | {delay['p50']} / {delay['p95']} / "
              f"{delay['p99']} / {delay['max']} s ({s['drivers_told']} told) | p99 ≤ 60 s |")
    print(f"| invariant violations | {len(s['violations'])} | 0 |")
    if args.json is not None:
        args.json.write_text(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
