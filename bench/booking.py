"""Booking benchmark, run by hand: the real local network (Mosquitto, servers, SQLite) on loopback.

    .venv/bin/python bench/booking.py [--seconds 20] [--trips 40] [--fleets 1,50,200]
                                      [--storms 1,10,60,300,1000] [--corridor 1000] [--json out.json]
                                      [--profile DIR]

In one run it measures the bare building blocks (fsync, an MQTT request/reply
through Mosquitto with an echo responder, an HTTP round trip to a server),
then one vehicle booking a three-company trip again and again (end to end,
over MQTT), then the fleet at 1, 50 and 200 concurrent vehicles; finally it
checks the invariants from the three logs. Prints a Markdown table.

Storms (`--storms`): for each size N, a fresh network; N vehicles sign up over
MQTT, then all ask at the same moment for Vitória da Conquista → Fortaleza
(three companies), departures spread over 30 days so that capacity does not
limit. The corridor storm (`--corridor N`) is the same with departures within
10 hours: room for a few dozen trips, so most must be refused (with their
alternatives). For each: confirmed/s, answered/s, p50/p95/p99, client
timeouts, and the CPU each server spent (from /proc, from the storm's start
until the logs have settled) per confirmed trip — plus each server's RSS.
`--profile DIR` attaches py-spy to every server and to the load generator during each storm.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract import topics  # noqa: E402
from contract.fake import fake_vehicle_form  # noqa: E402
from contract.mqtt import correlation_properties, new_client  # noqa: E402
from federation.launcher import LocalNetwork  # noqa: E402
from mosquitto import AclFile, BrokerProcess, PasswordFile  # noqa: E402
from tests.live import CAR  # noqa: E402
from vehicle_sim.client import VehicleClient, signup  # noqa: E402
from vehicle_sim.config import load_endpoints  # noqa: E402
from vehicle_sim.fleet import percentile, run_fleet  # noqa: E402
from vehicle_sim.storm import close_all, prepare_vehicles, spread, storm, within  # noqa: E402

CORRIDOR = ("vitoria-da-conquista", "fortaleza")
TICK = os.sysconf("SC_CLK_TCK")



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


def bench_single_trip(net: LocalNetwork, trips: int) -> tuple[list[float], int, float]:
    """One car at VoltPoint books Salvador → Fortaleza (three companies), a day apart each time; the latencies,
    the companies on the trip, and the servers' CPU per trip (ms, from /proc, the whole run)."""
    host, port = "127.0.0.1", net.companies["voltpoint"].broker_port
    session = signup(host, port, "voltpoint", {**fake_vehicle_form(4242), **CAR, "initial_credit": 10_000.0})
    car = VehicleClient(host, port, "voltpoint", session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"])
    car.connect()
    car.token = session["token"]
    out, companies = [], 0
    start = datetime.now(UTC) + timedelta(days=2)
    servers = {c: pid for c, pid in pids(net).items() if c in net.companies}
    before = sum(cpu_s(pid) for pid in servers.values())
    for i in range(trips):
        if i % 20 == 19:
            car.request("add_credit", amount=10_000)  # a trip costs ~R$ 350; outside the timing
        t = time.perf_counter()
        trip = car.request("book", 30, origin="salvador", destination="fortaleza",
                           departure=(start + timedelta(days=i)).isoformat())
        out.append(time.perf_counter() - t)
        companies = max(companies, len({s["company_id"] for s in trip["stops"]}))
    cpu_ms = 1000 * (sum(cpu_s(pid) for pid in servers.values()) - before) / max(trips, 1)
    car.close()
    return out, companies, cpu_ms


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pids(net: LocalNetwork) -> dict[str, int]:
    """The servers' and brokers' process ids, and this process's own (the load generator)."""
    found = {"load generator": os.getpid()}
    for cid, proc in net.companies.items():
        assert proc.server is not None and proc.broker is not None
        found[cid] = proc.server.pid
        found[f"broker {cid}"] = proc.broker.pid
    return found


def bench_storm(directory: Path, size: int, departures: Callable[[int], list], label: str, *,
                synchronous: str, profile: Path | None, signup_concurrency: int = 64,
                network_file: Path | None = None, route: tuple[str, str] = CORRIDOR,
                env: dict[str, str] | None = None) -> dict:
    """One storm on a fresh network: sign up `size` vehicles, then every one books `route` at once."""
    net = LocalNetwork(directory / f"{label}-{size}", free_ports=True, mqtt=True, network_file=network_file,
                       env={"RECARGA_SYNCHRONOUS": synchronous, **(env or {})})
    net.start(timeout=60)
    try:
        endpoints = load_endpoints(net.clients_file)
        procs = pids(net)

        async def run() -> tuple:
            began = time.monotonic()
            cars = await prepare_vehicles(endpoints, size, seed=size, concurrency=signup_concurrency)
            signed_up = time.monotonic() - began
            # A running network has planned and booked before: one booking per company, not measured (first
            # shortest-road tables, first peer connections).
            warm = await prepare_vehicles(endpoints, len(endpoints), seed=size + 1)
            await storm(warm, *route, [datetime.now(UTC) + timedelta(days=300, hours=i) for i in range(len(warm))])
            await close_all(warm)
            await asyncio.sleep(1.0)  # what the sign-ups and the warm-up left running settles before the storm
            spy = str(Path(sys.executable).with_name("py-spy"))
            spies = [subprocess.Popen([spy, "record", "-p", str(procs[c]), "-r", "200", "-f", "raw", "--nonblocking",
                                       "-o", str(profile / f"{label}-{size}-{c.replace(' ', '-')}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for c in [*net.companies, "load generator"]] if profile is not None else []
            before = {name: cpu_s(pid) for name, pid in procs.items()}
            result = await storm(cars, *route, departures(size), timeout=60)
            generated = cpu_s(procs["load generator"])  # its own work ends here: what follows is the checker's
            await close_all(cars)
            return result, before, spies, signed_up, generated

        result, before, spies, signed_up, generated = asyncio.run(run())
        violations, settle_s = net.settle(timeout=60)
        after = {**{name: cpu_s(pid) for name, pid in procs.items()}, "load generator": generated}
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=30)
        summary = result.summary()
        cpu = {name: after[name] - before[name] for name in procs}
        servers = sum(cpu[c] for c in net.companies)
        summary.update({
            "label": label, "sign_up_s": round(signed_up, 1), "settle_s": round(settle_s, 2),
            "violations": len(violations), "events": sum(len(v) for v in net.read_logs().values()),
            "cpu_s": {k: round(v, 3) for k, v in cpu.items()},
            "cpu_ms_per_confirmed": {c: round(1000 * cpu[c] / max(result.confirmed, 1), 2) for c in net.companies},
            "servers_cpu_ms_per_confirmed": round(1000 * servers / max(result.confirmed, 1), 2),
            "servers_cpu_ms_per_answer": round(1000 * servers / max(result.answered, 1), 2),
            "rss_mib": {c: round(rss_mib(procs[c]), 1) for c in net.companies}})
        return summary
    finally:
        net.stop()


def generated_network(directory: Path, stations: int, companies: int, seed: int = 7) -> tuple[Path, tuple[str, str]]:
    """A random network (servers.world.synthetic) written as a network file, and a route across the most
    companies the storm car's plan finds among a few hundred random pairs."""
    import dataclasses
    import random

    from servers.world.planner import plan_trip
    from servers.world.synthetic import random_network
    from servers.world.vehicles import Vehicle

    rng = random.Random(seed)
    network = random_network(rng, n_cities=max(60, stations // 3), n_stations=stations, n_companies=companies,
                             box=(-16.0, -3.0, -44.0, -35.0))
    path = directory / f"generated-{stations}-{companies}.json"
    path.write_text(json.dumps({"version": 1, **{k: [dataclasses.asdict(x) for x in getattr(network, k)]
                                                 for k in ("cities", "roads", "companies", "stations")}}))
    car = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.16, charge_kwh=54.0, max_ac_kw=11.0,
                  max_dc_kw=100.0)
    ids = [c.id for c in network.cities]
    best: tuple[int, tuple[str, str]] = (0, (ids[0], ids[1]))
    for _ in range(300):
        a, b = rng.sample(ids, 2)
        try:
            plan = plan_trip(network, a, b, datetime.now(UTC) + timedelta(days=2), car)[0]
        except Exception:  # an unreachable pair is just not a candidate
            continue
        best = max(best, (len({s.company_id for s in plan.stops}), (a, b)))
    return path, best[1]


def storm_row(s: dict) -> tuple[str, str, str]:
    lat = s["latency_ms"]
    refused = sum(s["refused"].values())
    what = (f"{s['label']} storm of {s['vehicles']}: p50 / p95 / p99 ms")
    share = s.get("earliest_askers_share")
    notes = (f"{s['confirmed_per_s']} confirmed/s, {s['answered_per_s']} answered/s; {s['confirmed']} confirmed, "
             f"{refused} refused ({s['refusals_with_alternatives']} with alternatives), errors {s['errors']}, "
             f"timeouts {s['timeouts']}; servers' CPU {s['servers_cpu_ms_per_confirmed']} ms per confirmed trip "
             f"({s['servers_cpu_ms_per_answer']} per answer; "
             + ", ".join(f"{c} {v}" for c, v in s["cpu_ms_per_confirmed"].items())
             + f"), load generator {s['cpu_s']['load generator']:.1f} s, brokers "
             + f"{sum(v for k, v in s['cpu_s'].items() if k.startswith('broker')):.1f} s; RSS "
             + ", ".join(f"{c} {v:.0f}" for c, v in s["rss_mib"].items())
             + f" MiB; settled in {s['settle_s']} s, {s['violations']} violations"
             + (f"; {100 * share:.0f} % of the confirmed trips lost no earlier asker (departing within 30 min)"
                if share is not None else ""))
    return what, f"{lat['p50']} / {lat['p95']} / {lat['p99']}", notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each fleet run")
    parser.add_argument("--trips", type=int, default=40, help="sequential single-vehicle bookings")
    parser.add_argument("--fleets", default="1,50,200", help="fleet sizes")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--storms", default="", help="storm sizes, e.g. 1,10,60,300,1000 (conflict-free)")
    parser.add_argument("--corridor", type=int, default=0, help="size of the contended corridor storm")
    parser.add_argument("--priority", type=int, default=0,
                        help="size of a corridor storm run with the priority rule off, then on: who gets the chargers")
    parser.add_argument("--only-storms", action="store_true", help="skip the single-trip and fleet runs")
    parser.add_argument("--signup-concurrency", type=int, default=64,
                        help="sign-ups in flight at once before a storm (the code before 2026-12-02 needs few)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--generated", default="", help="STATIONS,COMPANIES: the storms on a generated network")
    parser.add_argument("--profile", type=Path,
                        help="py-spy raw profiles of each server and the load generator during each storm")
    args = parser.parse_args()
    storms: list[dict] = []
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="recarga-bench-") as tmp:
        tmpdir = Path(tmp)
        rows.append(("fsync of 200 bytes", ms(bench_fsync(tmpdir)), "baseline"))
        rows.append(("MQTT request/reply, bare echo responder", ms(bench_mqtt_echo(tmpdir)), "baseline"))
        network_file, route = None, CORRIDOR
        if args.generated:
            stations, companies = (int(x) for x in args.generated.split(","))
            network_file, route = generated_network(tmpdir, stations, companies)
            rows.append((f"generated network: {stations} stations, {companies} companies", f"{route[0]} → {route[1]}",
                         "the storms below run on it"))
        for size in [int(n) for n in args.storms.split(",") if n]:
            # 30 days for up to 300 trips (the storm); more days for more, so capacity never limits.
            storms.append(bench_storm(tmpdir, size, lambda n: spread(n, days=max(30.0, n / 10)), "conflict-free",
                                      synchronous=args.synchronous, profile=args.profile,
                                      signup_concurrency=args.signup_concurrency, network_file=network_file,
                                      route=route))
            rows.append(storm_row(storms[-1]))
        if args.corridor:
            storms.append(bench_storm(tmpdir, args.corridor, lambda n: within(n, hours=10), "corridor",
                                      synchronous=args.synchronous, profile=args.profile,
                                      signup_concurrency=args.signup_concurrency))
            rows.append(storm_row(storms[-1]))
        for rule in ("off", "on") if args.priority else ():
            storms.append(bench_storm(tmpdir, args.priority, lambda n: within(n, hours=10),
                                      f"corridor, priority rule {rule}",
                                      synchronous=args.synchronous, profile=args.profile,
                                      signup_concurrency=args.signup_concurrency,
                                      env={"RECARGA_PRIORITY_RULE": "1" if rule == "on" else "0"}))
            rows.append(storm_row(storms[-1]))
        net = LocalNetwork(tmpdir / "net", free_ports=True, mqtt=True,
                           env={"RECARGA_SYNCHRONOUS": args.synchronous})
        net.start()
        try:
            if args.only_storms:
                raise _Skip
            rows.append(("HTTP GET /health (keep-alive)", ms(bench_http(net.companies["voltpoint"].api_url)),
                         "baseline"))
            single, companies, cpu_ms = bench_single_trip(net, args.trips)
            rows.append((f"one vehicle: book a {companies}-company trip over MQTT (end to end)", ms(single),
                         f"n={len(single)}; servers' CPU {cpu_ms:.2f} ms per trip (add_credit every 20th "
                         "included; idle beats of the run too)"))
            endpoints = load_endpoints(net.clients_file)
            for size in [int(s) for s in args.fleets.split(",") if s]:
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
        except _Skip:
            pass
        finally:
            net.stop()
    print(f"\nrecarga booking bench — {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, synchronous={args.synchronous}\n")
    print("| what | p50 / p99 ms (or value) | notes |\n|---|---|---|")
    for what, value, note in rows:
        print(f"| {what} | {value} | {note} |")
    print(json.dumps({"run": str(uuid.uuid4())[:8]}))
    if args.json is not None:
        args.json.write_text(json.dumps({"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M}", "cpus": os.cpu_count(),
                                         "rows": rows, "storms": storms}, indent=1))


class _Skip(Exception):
    """--only-storms: the single-trip and fleet runs are skipped."""


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
