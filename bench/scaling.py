"""What one three-company booking costs each company, run by hand: `.venv/bin/python bench/scaling.py [--pg]`.

Three servers on loopback (no MQTT: REST bookings, so the figures are the servers' own),
durable logs (synchronous=FULL). One driver books Salvador → Fortaleza (VoltPoint
coordinates; stops at VoltPoint, EcoCharge and E-Flux) `--trips` times one after the other,
each at its own departure time (no conflicts). Per company: CPU of its server process per
confirmed trip (user + system, /proc), and events its log gained per trip — what
docs/scaling.md divides a core and a log writer's ceiling by. `--pg` keeps VoltPoint's log
in a throwaway PostgreSQL cluster (fsync on), the others in files. `--split` gives VoltPoint's
stations north of latitude 12.3° S to a fourth participant server, `voltpoint-norte` (a change
of the network file only): a company's stations over two servers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from federation.launcher import LocalNetwork  # noqa: E402
from tests.live import Api, departure  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ENV = {"RECARGA_TICK_S": "1", "RECARGA_SYNCHRONOUS": "FULL"}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def heads(net: LocalNetwork) -> dict[str, int]:
    """Each company's log head."""
    from events.location import open_store

    out = {}
    for cid in net.companies:
        with open_store(net.log_location(cid), create=False) as store:
            out[cid] = store.head()
    return out


def split_network(directory: Path) -> Path:
    """The packaged network with VoltPoint's northern stations under a company of their own."""
    data = json.loads((ROOT / "servers" / "data" / "network.json").read_text())
    lat = {c["id"]: c["lat"] for c in data["cities"]}
    home = next(c for c in data["companies"] if c["id"] == "voltpoint")
    data["companies"].append({**home, "id": "voltpoint-norte", "name": "VoltPoint Norte",
                              "broker_port": home["broker_port"] + 10, "api_port": home["api_port"] + 10})
    for station in data["stations"]:
        if station["company_id"] == "voltpoint" and lat[station["city_id"]] > -12.3:
            station["company_id"] = "voltpoint-norte"
    path = directory / "network-split.json"
    path.write_text(json.dumps(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trips", type=int, default=30)
    parser.add_argument("--pg", action="store_true", help="VoltPoint's log in PostgreSQL")
    parser.add_argument("--split", action="store_true", help="VoltPoint's northern stations on a second server")
    args = parser.parse_args()
    cluster = None
    log_urls = {}
    if args.pg:
        from tests.postgres import PostgresCluster

        cluster = PostgresCluster(durable=True).start()
        log_urls["voltpoint"] = cluster.fresh_database("voltpoint")
    tmp = Path(tempfile.mkdtemp(prefix="bench-scaling-", dir=ROOT / "run"))
    network_file = split_network(tmp) if args.split else None
    net = LocalNetwork(tmp, free_ports=True, mqtt=False, env=ENV, log_urls=log_urls, network_file=network_file)
    try:
        net.start()
        base = net.companies["voltpoint"].api_url
        drivers = [Api(base, form_seed=31337 + d, credit=10_000.0) for d in range(args.trips // 8 + 1)]
        warm = drivers[-1].book("salvador", "fortaleza", departure(hours=4))
        assert warm.status_code == 201, warm.text
        net.settle(timeout=30)
        pids = {cid: p.server.pid for cid, p in net.companies.items() if p.server is not None}
        cpu0, head0 = {c: cpu_s(p) for c, p in pids.items()}, heads(net)
        times, confirmed, stops = [], 0, set()
        for i in range(args.trips):
            start = time.perf_counter()
            r = drivers[i // 8].book("salvador", "fortaleza", departure(hours=30 + 40 * i))  # 8 trips' credit each
            times.append((time.perf_counter() - start) * 1000)
            if r.status_code == 201:
                confirmed += 1
                stops.add(tuple(sorted({s["company_id"] for s in r.json()["stops"]})))
        violations, _ = net.settle(timeout=30)
        cpu1, head1 = {c: cpu_s(p) for c, p in pids.items()}, heads(net)
        print(f"# {platform.machine()}, {len(os.sched_getaffinity(0))} cpus, Python {platform.python_version()},"
              f" {time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f},"
              f" VoltPoint's log: {'PostgreSQL' if args.pg else 'SQLite'}")
        print(f"{confirmed} of {args.trips} trips confirmed, stopping at {' or '.join(map(str, stops))};"
              f" REST booking p50"
              f" {statistics.median(times):.1f} ms; invariant violations: {len(violations)}")
        print("| company | role | server CPU per trip | events per trip |\n|---|---|---|---|")
        for cid in pids:
            role = "coordinator + participant" if cid == "voltpoint" else "participant"
            if args.split and cid.startswith("voltpoint"):
                role += " (VoltPoint split)"
            print(f"| {cid} | {role} | {(cpu1[cid] - cpu0[cid]) / max(confirmed, 1) * 1000:.1f} ms |"
                  f" {(head1[cid] - head0[cid]) / max(confirmed, 1):.1f} |")
    finally:
        net.stop()
        if cluster is not None:
            cluster.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
