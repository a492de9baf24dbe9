"""A 3-company trip's latency against the round trip between companies, by hand (root): `python bench/multihost.py`.

Every company on a host of its own (tests/multihost: a network namespace,
an address, delay proxies between each pair of companies). For each added
round trip (0, 10, 20, 40, 80 ms by default) it measures:

- the HTTP round trip between companies: an unsigned GET /api/v1/health
  from the root namespace through the VoltPoint→E-Flux proxy, kept-alive;
- one driver's bookings of Salvador → Fortaleza, one at a time (a trip that
  stops at VoltPoint, EcoCharge and E-Flux; VoltPoint coordinates), over
  REST from the root namespace straight to VoltPoint: only CONFIRMED ones
  are timed, each at a departure of its own so that none competes.

Then prints, per row, the trip's p50 minus the floor at 0 ms divided by the
inter-company round trip: how many round trips the driver waits for.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.chaos.harness import Driver  # noqa: E402
from tests.multihost.federation import federation  # noqa: E402
from tests.multihost.netns import why_unavailable  # noqa: E402


def http_rtt(url: str, n: int = 40) -> float:
    """Median seconds of a kept-alive GET through `url` (the proxy's added delay included)."""
    with httpx.Client(timeout=10) as client:
        client.get(url + "/api/v1/health")
        times = []
        for _ in range(n):
            t = time.perf_counter()
            client.get(url + "/api/v1/health").raise_for_status()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def trips(driver: Driver, n: int, day0: int) -> tuple[list[float], dict[str, int]]:
    """Book n trips one after the other; the seconds of the confirmed ones, and the other answers by code."""
    times, others = [], {}
    with httpx.Client(timeout=60) as client:
        for i in range(n):
            when = (datetime.now(UTC) + timedelta(days=day0 + i // 6, hours=3 * (i % 6) + 1)).replace(
                microsecond=0).isoformat()
            t = time.perf_counter()
            r = client.post(driver.base + "/api/v1/trips", json={"origin": "salvador", "destination": "fortaleza",
                                                                 "departure": when},
                            headers={"Authorization": "Bearer " + driver.token, "Idempotency-Key": uuid.uuid4().hex})
            elapsed = time.perf_counter() - t
            if r.status_code == 201 and {s["company_id"] for s in r.json()["stops"]} == {"voltpoint", "eflux",
                                                                                        "ecocharge"}:
                times.append(elapsed)
            else:
                code = f"{r.status_code}:{r.json().get('code', r.json().get('status'))}"
                others[code] = others.get(code, 0) + 1
    return times, others


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtts-ms", default="0,10,20,40,80", help="added round trips between companies")
    parser.add_argument("--trips", type=int, default=30, help="timed bookings per round trip")
    args = parser.parse_args()
    reason = why_unavailable()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    rtts = [float(x) / 1000 for x in args.rtts_ms.split(",")]
    print(f"multihost: {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, "
          f"Python {platform.python_version()}, {args.trips} trips per row", flush=True)
    with tempfile.TemporaryDirectory(prefix="recarga-multihost-") as tmp, federation(Path(tmp)) as fed:
        driver = Driver.sign_up(fed.net, "voltpoint", 4242)
        proxy = fed.proxies[("voltpoint", "eflux")]
        via_proxy = f"http://{proxy.listen[0]}:{proxy.listen[1]}"
        rows = []
        for n, rtt in enumerate(rtts):
            fed.set_rtt(rtt)
            measured = http_rtt(via_proxy)
            for _ in range(1 + args.trips // 20):  # credit for the row (at most R$ 10,000 per top-up)
                driver.add_credit(10_000.0)
            trips(driver, 3, 100 + 40 * n)  # warm the peer connections at this latency
            times, others = trips(driver, args.trips, 110 + 40 * n)
            rows.append((rtt, measured, times, others))
            if not times:
                print(f"  added {rtt * 1000:.0f} ms: no confirmed trip; {others}")
                return 1
            print(f"  added {rtt * 1000:4.0f} ms: inter-company HTTP round trip {measured * 1000:6.1f} ms, "
                  f"{len(times)} trips p50 {statistics.median(times) * 1000:6.1f} ms"
                  + (f", others {others}" if others else ""), flush=True)
        fed.set_rtt(0.0)
    floor = statistics.median(rows[0][2])
    print("\n| added RTT | measured inter-company RTT | trip p50 | trip p90 | (p50 − floor) / RTT |")
    print("|---|---|---|---|---|")
    for rtt, measured, times, _ in rows:
        p50 = statistics.median(times)
        ratio = f"{(p50 - floor) / measured:.2f}" if rtt > 0 else "— (floor)"
        print(f"| {rtt * 1000:.0f} ms | {measured * 1000:.1f} ms | {p50 * 1000:.1f} ms | "
              f"{pct(times, 0.9) * 1000:.1f} ms | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
