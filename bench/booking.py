"""Booking benchmark, run by hand: the real local network (Mosquitto, servers, SQLite) on loopback.

    .venv/bin/python bench/booking.py [--seconds 20] [--trips 40] [--fleets 1,50,200]

In one run it measures the bare building blocks (fsync, an MQTT request/reply
through Mosquitto with an echo responder, an HTTP round trip to a server),
then one vehicle booking a three-company trip again and again (end to end,
over MQTT), then the fleet at 1, 50 and 200 concurrent vehicles; finally it
checks the invariants from the three logs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosquitto import AclFile, BrokerProcess, PasswordFile  # noqa: E402
from servers.contract import topics  # noqa: E402
from servers.contract.fake import fake_vehicle_form  # noqa: E402
from servers.contract.mqtt import correlation_properties, new_client  # noqa: E402
from servers.launcher import LocalNetwork  # noqa: E402
from vehicle_sim.client import VehicleClient, signup  # noqa: E402
from vehicle_sim.config import load_endpoints  # noqa: E402
from vehicle_sim.fleet import percentile, run_fleet  # noqa: E402

CAR = {"capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "charge_kwh": 54.0, "max_ac_kw": 11.0,
       "max_dc_kw": 100.0, "profile": "normal", "initial_credit": 10_000.0}


def ms(samples: list[float]) -> str:
    """p50 / p99 in milliseconds."""
    return f"{percentile(samples, 50) * 1000:.2f} / {percentile(samples, 99) * 1000:.2f}"


def bench_fsync(directory: Path, n: int = 300) -> list[float]:
    """Write 200 bytes and fsync, n times."""
    path = directory / "fsync.bin"
    out = []
    with open(path, "wb") as f:
        for _ in range(n):
            t = time.perf_counter()
            f.write(b"x" * 200)
            f.flush()
            os.fsync(f.fileno())
            out.append(time.perf_counter() - t)
    return out


def bench_mqtt_echo(directory: Path, n: int = 500) -> list[float]:
    """Request/reply through a Mosquitto of our config (TCP_NODELAY both sides) with a bare echo responder."""
    broker = BrokerProcess(directory / "echo-broker")
    PasswordFile(broker.password_file).set_many({"server": "s", "car": "c"})
    AclFile("bench").write(broker.acl_file)
    with broker:
        echo = new_client("echo", "server", "s")
        echo.message_callback_add(topics.all_requests("bench"), lambda c, _u, m: c.publish(
            topics.vehicle_reply("bench", topics.parse_vehicle_id(m.topic)), m.payload, qos=1,
            properties=correlation_properties(m)))
        echo.connect("127.0.0.1", broker.port)
        echo.subscribe(topics.all_requests("bench"), qos=1)
        echo.loop_start()
        time.sleep(0.3)
        car = VehicleClient("127.0.0.1", broker.port, "bench", "car", "car", "c")
        car.connect()
        out = []
        for _ in range(n):
            t = time.perf_counter()
            car.request_raw("ping", 5)
            out.append(time.perf_counter() - t)
        car.close()
        echo.loop_stop()
        echo.disconnect()
    return out


def bench_http(url: str, n: int = 500) -> list[float]:
    """GET /api/v1/health over a kept-alive connection."""
    out = []
    with httpx.Client() as http:
        for _ in range(n):
            t = time.perf_counter()
            http.get(url + "/api/v1/health").raise_for_status()
            out.append(time.perf_counter() - t)
    return out


def bench_single_trip(net: LocalNetwork, trips: int) -> tuple[list[float], int]:
    """One car at VoltPoint books Salvador → Fortaleza (three companies), a day apart each time."""
    host, port = "127.0.0.1", net.companies["voltpoint"].broker_port
    session = signup(host, port, "voltpoint", {**fake_vehicle_form(4242), **CAR})
    car = VehicleClient(host, port, "voltpoint", session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"])
    car.connect()
    car.token = session["token"]
    out, companies = [], 0
    start = datetime.now(UTC) + timedelta(days=2)
    for i in range(trips):
        if i % 20 == 19:
            car.request("add_credit", amount=10_000)  # a trip costs ~R$ 350; outside the timing
        t = time.perf_counter()
        trip = car.request("book", 30, origin="salvador", destination="fortaleza",
                           departure=(start + timedelta(days=i)).isoformat())
        out.append(time.perf_counter() - t)
        companies = max(companies, len({s["company_id"] for s in trip["stops"]}))
    car.close()
    return out, companies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each fleet run")
    parser.add_argument("--trips", type=int, default=40, help="sequential single-vehicle bookings")
    parser.add_argument("--fleets", default="1,50,200", help="fleet sizes")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="recarga-bench-") as tmp:
        tmpdir = Path(tmp)
        rows.append(("fsync of 200 bytes", ms(bench_fsync(tmpdir)), "baseline"))
        rows.append(("MQTT request/reply, bare echo responder", ms(bench_mqtt_echo(tmpdir)), "baseline"))
        net = LocalNetwork(tmpdir / "net", free_ports=True, mqtt=True,
                           env={"RECARGA_SYNCHRONOUS": args.synchronous})
        net.start()
        try:
            rows.append(("HTTP GET /health (keep-alive)", ms(bench_http(net.companies["voltpoint"].api_url)),
                         "baseline"))
            single, companies = bench_single_trip(net, args.trips)
            rows.append((f"one vehicle: book a {companies}-company trip over MQTT (end to end)", ms(single),
                         f"n={len(single)}"))
            endpoints = load_endpoints(net.clients_file)
            for size in [int(s) for s in args.fleets.split(",")]:
                summary = run_fleet(endpoints, vehicles=size, duration=args.seconds, seed=size, timeout=60)
                lat = summary["latency_ms"]
                confirmed_per_s = summary["confirmed"] / summary["elapsed_s"]
                rows.append((f"fleet of {size}: book (p50 / p99)", f"{lat['p50']:.1f} / {lat['p99']:.1f}",
                             f"{confirmed_per_s:.1f} confirmed/s, {summary['bookings_per_s']:.1f} answered/s, "
                             f"refused {summary['refused_total']}, errors {summary['errors_total']}"))
            violations, _ = net.settle(timeout=30)
            logs = net.read_logs()
            events = sum(len(v) for v in logs.values())
            rows.append(("invariant violations (from the 3 logs)", str(len(violations)), f"{events} events"))
        finally:
            net.stop()
    print(f"\nrecarga booking bench — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, synchronous={args.synchronous}\n")
    print("| what | p50 / p99 ms (or value) | notes |\n|---|---|---|")
    for what, value, note in rows:
        print(f"| {what} | {value} | {note} |")
    print(json.dumps({"run": str(uuid.uuid4())[:8]}))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
