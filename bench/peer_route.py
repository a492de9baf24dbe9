"""The peer batch route, direct against through FastAPI (run by hand): `.venv/bin/python bench/peer_route.py`.

    .venv/bin/python bench/peer_route.py [--requests 2000] [--rounds 5] [--ops 1,16] [--no-http]

One company server (EcoCharge, a SQLite log in a temporary directory, `synchronous=NORMAL` so the disk's
fsync does not drown the figures) behind two apps of `create_app`: the one servers run, where `PeerAuth`
answers `POST /peer/v1/batch` itself (servers/api/peer_direct.py), and the same app with
`direct_peer_routes=False`, where FastAPI does. Two workloads of signed batches of N operations, and the long poll:

- `outcome`: "what became of trip X?" for trips nobody knows — decided at once, nothing written;
- `prepare`: N new trips holding one stop each — decided, written, one commit per request;
- `occupancy`: `GET /peer/v1/occupancy?after=<the log's head>&wait=0`, a follower's poll with nothing new.

Two ways of calling:

- `asgi`: the app called in-process with a prepared, signed request; the time of the app call alone;
- `http`: the app under uvicorn (uvloop, httptools, as `servers serve` runs it) on loopback, called by the
  servers' own `PeerClient.batch` (its HTTP client, signing, JSON), client and server on one loop: one peer hop.

The two paths alternate in rounds, so drift (another process, a warming cache) falls on both. Prints the
median and p90 µs per request of each, and the direct path's saving.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import orjson
import uvicorn
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.adapters.peer_client import BATCH_PATH, OCCUPANCY_PATH, PeerClient
from servers.api.app import create_app
from servers.bootstrap import Server, build_server
from servers.peer_auth import pair_key, sign
from servers.settings import Settings

TARGET, CALLER = "ecocharge", "voltpoint"
PATHS = ("direct", "fastapi")


class Workload:
    """Fresh operations for each request: `outcome` of unknown trips, or `prepare` of new one-stop trips."""

    def __init__(self, server: Server, kind: str) -> None:
        self.kind = kind
        self.stations = server.network.stations_of(TARGET)
        self.start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)
        self.numbers = count()

    def ops(self, n: int) -> list[dict[str, Any]]:
        return [self._op(next(self.numbers)) for _ in range(n)]

    def _op(self, i: int) -> dict[str, Any]:
        if self.kind == "outcome":
            return {"op": "outcome", "args": {"trip_id": f"bench-unknown-{i}"}}
        # One 10-minute stop per trip, stations in turn, a new quarter hour once every station had one: no two
        # holds of the run meet, so every prepare is a yes and writes its holds.
        station = self.stations[i % len(self.stations)]
        begin = self.start + timedelta(minutes=15 * (i // len(self.stations)))
        return {"op": "prepare", "args": {
            "trip_id": f"bench-{i}", "coordinator": CALLER, "priority": begin.isoformat(),
            "stops": [{"stop": 0, "station_id": station.id, "start": begin.isoformat(),
                       "end": (begin + timedelta(minutes=10)).isoformat(), "min_power_kw": 0, "energy_kwh": 5}]}}


async def call_asgi(app: Any, secrets_: dict[str, str], method: str, path: str, query: str = "",
                    body: bytes = b"") -> tuple[float, Any]:
    """One signed request through the ASGI app in-process: µs of the app call, and its JSON answer."""
    target = path + (f"?{query}" if query else "")
    headers = {**sign(secrets_, CALLER, TARGET, method, target, body), "host": "127.0.0.1:8103",
               **({"content-type": "application/json", "content-length": str(len(body))} if body else {})}
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "server": ("127.0.0.1", 8103), "client": ("127.0.0.1", 50000), "scheme": "http", "method": method,
             "root_path": "", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "state": {}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    began = time.perf_counter_ns()
    await app(scope, receive, send)
    took = (time.perf_counter_ns() - began) / 1000
    assert sent[0]["status"] == 200, sent
    return took, orjson.loads(sent[1]["body"])


async def serve(app: Any) -> tuple[uvicorn.Server, str]:
    """`app` under uvicorn on a free loopback port, as `servers serve` runs it; the server and its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, http="httptools", lifespan="off",
                                           log_level="warning", timeout_keep_alive=60))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def measure(server: Server, secrets_: dict[str, str], args: argparse.Namespace) -> list[tuple[str, ...]]:
    apps = {path: create_app(server, direct_peer_routes=path == "direct") for path in PATHS}
    client = PeerClient(CALLER, secrets_, timeout_s=10)
    bases: dict[str, str] = {}
    running: list[uvicorn.Server] = []
    if args.http:
        for path, app in apps.items():
            served, bases[path] = await serve(app)
            running.append(served)
    rows: list[tuple[str, ...]] = []
    # One per kind for the whole run: every trip id and every hold's window is new, whichever path gets it.
    workloads = {kind: Workload(server, kind) for kind in ("outcome", "prepare")}

    async def one(how: str, path: str, kind: str, n: int) -> float:
        """µs of one request of `kind` down `path`, called `how`."""
        if kind == "occupancy":  # a follower's poll with nothing new to hear: the long poll's usual answer
            query = f"after={server.engine.state.seq}&wait=0"
            if how == "asgi":
                return (await call_asgi(apps[path], secrets_, "GET", OCCUPANCY_PATH, query))[0]
            began = time.perf_counter_ns()
            await client.call(TARGET, bases[path], "GET", f"{OCCUPANCY_PATH}?{query}")
            return (time.perf_counter_ns() - began) / 1000
        body = orjson.dumps({"ops": workloads[kind].ops(n)})
        if how == "asgi":
            took, answer = await call_asgi(apps[path], secrets_, "POST", BATCH_PATH, body=body)
            results = answer["results"]
        else:
            began = time.perf_counter_ns()
            results = await client.batch(TARGET, bases[path], orjson.loads(body)["ops"])
            took = (time.perf_counter_ns() - began) / 1000
        # Every prepare a yes: a no costs its alternatives, and would weigh on one path only.
        assert all(r["ok"] and r["result"].get("vote", "yes") == "yes" for r in results), results[:1]
        return took

    try:
        for how in ("asgi", "http") if args.http else ("asgi",):
            for kind, n in [(k, n) for k in ("outcome", "prepare") for n in args.ops] + [("occupancy", 0)]:
                times: dict[str, list[float]] = {p: [] for p in PATHS}
                per_round = max(1, args.requests // args.rounds)
                for round_ in range(args.rounds + 1):  # round 0 warms up and is not counted
                    for path in PATHS if round_ % 2 else reversed(PATHS):
                        for _ in range(per_round if round_ else 50):
                            took = await one(how, path, kind, n)
                            if round_:
                                times[path].append(took)
                direct, fastapi = (statistics.median(times[p]) for p in PATHS)
                rows.append((how, kind, str(n) if n else "—",
                             f"{fastapi:,.0f} / {percentile(times['fastapi'], 90):,.0f}",
                             f"{direct:,.0f} / {percentile(times['direct'], 90):,.0f}",
                             f"{fastapi - direct:,.0f} µs ({(fastapi - direct) / fastapi:.0%})"))
                print("| " + " | ".join(rows[-1]) + " |", flush=True)
    finally:
        await client.close()
        for served in running:
            served.should_exit = True
        await asyncio.sleep(0.2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per path, workload and size")
    parser.add_argument("--rounds", type=int, default=5, help="the paths alternate this many times")
    parser.add_argument("--ops", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16],
                        help="operations per batch")
    parser.add_argument("--no-http", dest="http", action="store_false", help="only the in-process ASGI calls")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")
    print("\n| call | workload | ops | FastAPI p50 / p90 µs | direct p50 / p90 µs | saved (p50) |")
    print("|---|---|---|---|---|---|")
    companies = ("ecocharge", "eflux", "voltpoint")
    secrets_ = {pair_key(a, b): secrets.token_hex(16) for a in companies for b in companies if a < b}
    with tempfile.TemporaryDirectory() as tmp:
        server = build_server(Settings(company=TARGET, data_dir=Path(tmp), mqtt=False, broker_key="bench-" * 4,
                                       peer_secrets=secrets_, synchronous="NORMAL"))

        async def run() -> None:
            try:
                await measure(server, secrets_, args)
            finally:
                await server.close()

        uvloop.run(run())


if __name__ == "__main__":
    main()
