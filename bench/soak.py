"""Soak test, by hand: `.venv/bin/python bench/soak.py --minutes 10`.

Starts the local three-company network (free ports, brokers, temporary run
directory), measures booking capacity by ramping REST booking threads
(1, 2, 4, 8; `--ramp-seconds` each), then books at HALF the best measured rate
for `--minutes`, paced, sampling once a minute: each server's RSS
(/proc/PID/status VmRSS; psutil is not installed), requests, refusals, errors
and p50/p99 latency of that minute. Prints a table; ends with the invariant
check of the logs (converged) and what each server's state still keeps.
Every loop is bounded by time.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from federation.launcher import LocalNetwork  # noqa: E402
from tests.chaos.harness import ROUTES, Driver, Load, departure, settle, sign_up_drivers  # noqa: E402
from tests.live import DURABLE, FAST  # noqa: E402


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def p(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, in ms."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_capacity(drivers: list[Driver], ramp_seconds: float) -> tuple[float, list[tuple[int, float, float]]]:
    """Ramp booking threads; return the best rate (requests/s answered 201 or 409) and each step."""
    steps = []
    for threads in (1, 2, 4, 8):
        load = Load(drivers, threads, seed=threads, max_seconds=ramp_seconds, max_requests=100_000).start()
        time.sleep(ramp_seconds)
        load.stop()
        done = len(load.stats.confirmed) + load.stats.refused
        steps.append((threads, done / ramp_seconds, p(load.stats.latencies, 0.99)))
        print(f"  ramp: {threads} threads -> {done / ramp_seconds:6.1f} bookings/s, "
              f"p99 {p(load.stats.latencies, 0.99):6.0f} ms, errors {sum(load.stats.errors.values())}", flush=True)
    return max(rate for _, rate, _ in steps), steps


class Paced:
    """Threads that together send `rate` bookings per second until `seconds` pass; records per-minute figures."""

    def __init__(self, drivers: list[Driver], rate: float, threads: int, seconds: float) -> None:
        self.drivers, self.rate, self.threads, self.seconds = drivers, rate, threads, seconds
        self.lock = threading.Lock()
        self.minute: dict[int, dict[str, object]] = {}
        self.start = time.monotonic()

    def _bucket(self, t: float) -> dict[str, object]:
        return self.minute.setdefault(int((t - self.start) // 60),
                                      {"lat": [], "ok": 0, "refused": 0, "errors": Counter()})

    def _work(self, i: int) -> None:
        rng = random.Random(i)
        interval = self.threads / self.rate
        n = 0
        end = self.start + self.seconds
        while True:
            due = self.start + i * interval / self.threads + n * interval
            if due >= end:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            n += 1
            driver = rng.choice(self.drivers)
            _, origin, destination = rng.choice([r for r in ROUTES if r[0] == driver.home])
            t0 = time.monotonic()
            try:
                r = driver.book(origin, destination, departure(rng))
                kind = {201: "ok", 409: "refused"}.get(r.status_code, f"http{r.status_code}")
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            with self.lock:
                b = self._bucket(t0)
                if kind in ("ok", "refused"):
                    b[kind] = int(b[kind]) + 1  # type: ignore[call-overload]
                    b["lat"].append(time.monotonic() - t0)  # type: ignore[union-attr]
                else:
                    b["errors"][kind] += 1  # type: ignore[index]
            if kind == "refused" and r.json().get("code") == "INSUFFICIENT_CREDIT":
                driver.add_credit(3000.0)

    def run(self, net: LocalNetwork) -> list[str]:
        workers = [threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(self.threads)]
        for w in workers:
            w.start()
        pids = {cid: p.server.pid for cid, p in net.companies.items() if p.server is not None}
        rows = []
        header = (f"{'min':>3} {'req':>5} {'ok':>5} {'refused':>7} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} "
                  + " ".join(f"{cid + ' MiB':>14}" for cid in pids))
        print(header, flush=True)
        for minute in range(int(self.seconds // 60) + 1):
            target = self.start + 60 * (minute + 1)
            while time.monotonic() < min(target, self.start + self.seconds + 30):
                time.sleep(min(1.0, max(0.0, target - time.monotonic())))
                if time.monotonic() >= target:
                    break
            with self.lock:
                b = self.minute.get(minute, {"lat": [], "ok": 0, "refused": 0, "errors": Counter()})
                lat = list(b["lat"])  # type: ignore[call-overload]
                errors = sum(b["errors"].values())  # type: ignore[union-attr]
                ok, refused = int(b["ok"]), int(b["refused"])  # type: ignore[call-overload]
            if not ok and not refused and not errors:
                break
            row = (f"{minute + 1:>3} {ok + refused + errors:>5} {ok:>5} {refused:>7} {errors:>6} {p(lat, 0.5):>7.0f} "
                   f"{p(lat, 0.99):>7.0f} " + " ".join(f"{rss_kib(pid) / 1024:>14.1f}" for pid in pids.values()))
            print(row, flush=True)
            rows.append(row)
        for w in workers:
            w.join(30)
        return [header, *rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ramp-seconds", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=4, help="paced threads during the soak")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="recarga-soak-"))
    import os

    print(f"soak: {args.minutes} min; {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, "
          f"Python {platform.python_version()}; run dir {run_dir}", flush=True)
    net = LocalNetwork(run_dir, free_ports=True, mqtt=True, env={**FAST, **DURABLE})
    try:
        net.start(timeout=60)
        drivers = sign_up_drivers(net, per_home=4, seed=99)
        capacity, _ = measure_capacity(drivers, args.ramp_seconds)
        rate = capacity / 2
        print(f"capacity {capacity:.1f} bookings/s; soaking at {rate:.1f}/s for {args.minutes} min", flush=True)
        Paced(drivers, rate, args.threads, args.minutes * 60).run(net)
        violations, took = settle(net, 60)
        print(f"invariants after the soak: {len(violations)} violations (converged in {took:.1f} s)")
        for v in violations:
            print(f"  {v}")
        rss = {cid: rss_kib(p.server.pid) / 1024 for cid, p in net.companies.items() if p.server is not None}
        print("final RSS MiB: " + ", ".join(f"{c}={v:.1f}" for c, v in rss.items()))
        for cid, company in net.companies.items():  # what the state keeps: live trips and reservations
            st = httpx.get(company.api_url + "/api/v1/stats", timeout=10).json()
            print(f"  {cid}: {st['seq']} events; in memory: {st['trips_kept']} trips, {st['reserved']} "
                  f"reservations, {st['held']} holds; all time: {st['trips_confirmed']} trips confirmed, "
                  f"{st['trips_aborted']} attempts aborted, {st['requests_refused']} requests refused")
        return 1 if violations else 0
    finally:
        net.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
