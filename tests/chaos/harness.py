"""The chaos harness: booking load over REST against a LocalNetwork while one fault at a time hits it.

Shared by the CI-sized tests (tests/chaos/test_chaos.py) and the long run
(bench/chaos.py). Every loop here stops by itself: the load by a stop event,
a request count and a deadline; settling by a timeout.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as mqtt

from contract import topics
from contract.mqtt import new_client
from federation.invariants import Violation
from federation.launcher import LocalNetwork
from tests.live import signup_form

# (home company, origin, destination): VoltPoint coordinates trips that stop at all three companies,
# EcoCharge one that stops at EcoCharge and E-Flux; E-Flux is only ever a participant here.
ROUTES = [("voltpoint", "salvador", "fortaleza"), ("voltpoint", "salvador", "recife"),
          ("ecocharge", "recife", "fortaleza")]
COORDINATOR, PARTICIPANT = "voltpoint", "eflux"
FAULTS = ("kill-coordinator", "kill-participant", "kill-broker", "pause-server", "fail-points")


def departure(rng: random.Random, days: float = 30.0) -> str:
    """A departure between 6 h and `days` days from now, so trips spread over many windows."""
    hours = rng.uniform(6, 24 * days)
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def settle(net: LocalNetwork, timeout: float = 30.0) -> tuple[list[Violation], float]:
    """Poll the checker with converged=True until it is clean or `timeout`; (last violations, seconds)."""
    return net.settle(timeout)


@dataclass
class Driver:
    """A signed-up vehicle at its home company, booking over REST."""

    home: str
    base: str
    token: str
    vehicle_id: str
    # A car is in one place at a time (TRIP_OVERLAPS): its next trip leaves after the last one booked arrives.
    free_from: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Its trips spread over the 30 days from this many days ahead (a long run moves on to fresh windows).
    from_days: float = 0.0

    def departure(self, rng: random.Random) -> str:
        """A departure spread over 30 days from `from_days` ahead, after the car's last booked trip."""
        spread = datetime.fromisoformat(departure(rng)) + timedelta(days=self.from_days)
        return max(spread, self.free_from + timedelta(hours=1)).replace(microsecond=0).isoformat()

    @classmethod
    def sign_up(cls, net: LocalNetwork, home: str, seed: int) -> Driver:
        r = httpx.post(net.companies[home].api_url + "/api/v1/accounts", json=signup_form(seed), timeout=30)
        r.raise_for_status()
        body = r.json()
        return cls(home, net.companies[home].api_url, body["token"], body["vehicle_id"])

    def add_credit(self, amount: float) -> None:
        # The server may be down this moment; the next INSUFFICIENT_CREDIT refusal tries again.
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(self.base + "/api/v1/me/credit", json={"amount": amount},
                       headers={"Authorization": "Bearer " + self.token}, timeout=10)

    def cancel(self, trip_id: str, timeout: float = 20.0) -> httpx.Response:
        return httpx.post(self.base + f"/api/v1/trips/{trip_id}/cancel", json={"reason": "TRAFFIC"},
                          headers={"Authorization": "Bearer " + self.token}, timeout=timeout)

    def check_in(self, trip_id: str, stop: int, action: str, timeout: float = 20.0) -> httpx.Response:
        body: dict[str, object] = {"trip_id": trip_id, "stop": stop, "action": action}
        if action == "finish":
            body["energy_kwh"] = 10.0
        return httpx.post(self.base + f"/api/v1/trips/{trip_id}/check-in", json=body,
                          headers={"Authorization": "Bearer " + self.token}, timeout=timeout)

    def book(self, origin: str, destination: str, when: str, timeout: float = 20.0) -> httpx.Response:
        return httpx.post(self.base + "/api/v1/trips", json={"origin": origin, "destination": destination,
                                                            "departure": when},
                          headers={"Authorization": "Bearer " + self.token,
                                   "Idempotency-Key": uuid.uuid4().hex}, timeout=timeout)


@dataclass
class LoadStats:
    """What the load clients saw: confirmed trips (by id), refusals, errors by kind, latencies."""

    confirmed: dict[str, str] = field(default_factory=dict)  # trip id -> coordinator company
    refused: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # refusal code -> count
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    cancelled: int = 0  # trips the load cancelled (refunded by the companies' terms)
    charged: int = 0  # first stops the load charged at (a charge detail record each)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def requests(self) -> int:
        return len(self.confirmed) + self.refused + sum(self.errors.values())


class Load:
    """Threads that book trips until stopped, `max_requests` are sent, or `max_seconds` pass."""

    def __init__(self, drivers: list[Driver], threads: int, seed: int, max_requests: int = 10_000,
                 max_seconds: float = 120.0, pause_s: float = 0.0, cancel_share: float = 0.15,
                 charge_share: float = 0.15) -> None:
        self.drivers = drivers
        self.threads = threads
        self.rng = random.Random(seed)
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.pause_s = pause_s
        # Some trips booked are cancelled at once (refunds by terms), some charged at their first stop (a check-in
        # is accepted any time before the no-show: charge detail records): money moves under the faults too.
        self.cancel_share = cancel_share
        self.charge_share = charge_share
        self.stats = LoadStats()
        self._stop = threading.Event()
        self._sent = 0
        self._workers: list[threading.Thread] = []

    def _next(self) -> tuple[Driver, str, str, str] | None:
        with self.stats.lock:
            if self._sent >= self.max_requests:
                return None
            self._sent += 1
            driver = self.rng.choice(self.drivers)
            routes = [r for r in ROUTES if r[0] == driver.home]
            _, origin, destination = self.rng.choice(routes)
            return driver, origin, destination, driver.departure(self.rng)

    def _work(self, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            job = self._next()
            if job is None:
                return
            driver, origin, destination, when = job
            start = time.monotonic()
            try:
                r = driver.book(origin, destination, when)
            except httpx.ConnectError:
                self.stats.error("connect")
                self._stop.wait(0.2)  # the server is down: do not spin on a refused port
                continue
            except httpx.TimeoutException:
                self.stats.error("timeout")
                continue
            except httpx.HTTPError as exc:
                self.stats.error(type(exc).__name__)
                continue
            elapsed = time.monotonic() - start
            top_up = False
            with self.stats.lock:
                self.stats.latencies.append(elapsed)
                if r.status_code == 201:
                    self.stats.confirmed[r.json()["trip_id"]] = driver.home
                    arrival = datetime.fromisoformat(r.json()["plan"]["arrival"])
                    driver.free_from = max(driver.free_from, arrival)
                elif r.status_code == 409:
                    self.stats.refused += 1
                    code = str(r.json().get("code"))
                    self.stats.refusals[code] = self.stats.refusals.get(code, 0) + 1
                    if code == "INSUFFICIENT_CREDIT":
                        top_up = True
                else:
                    kind = f"http{r.status_code}"
                    with contextlib.suppress(ValueError):  # a proxy or a dying server may not answer JSON
                        kind += ":" + str(r.json().get("code"))
                    self.stats.errors[kind] = self.stats.errors.get(kind, 0) + 1
            if r.status_code == 201:
                self._after_booking(driver, r.json()["trip_id"])
            if top_up:
                driver.add_credit(3000.0)  # the load is about bookings, not about running dry
            if self.pause_s:
                self._stop.wait(self.pause_s)

    def _after_booking(self, driver: Driver, trip_id: str) -> None:
        """Cancel the trip, or charge at its first stop, or leave it (by the shares)."""
        with self.stats.lock:
            draw = self.rng.random()
        try:
            if draw < self.cancel_share:
                r = driver.cancel(trip_id)
                if r.status_code == 200:
                    with self.stats.lock:
                        self.stats.cancelled += 1
                    return
            elif draw < self.cancel_share + self.charge_share:
                r = driver.check_in(trip_id, 0, "start")
                if r.status_code == 200:
                    r = driver.check_in(trip_id, 0, "finish")
                if r.status_code == 200:
                    with self.stats.lock:
                        self.stats.charged += 1
                    return
            else:
                return
        except httpx.HTTPError as exc:
            self.stats.error("after-booking:" + type(exc).__name__)
            return
        kind = f"after-booking:http{r.status_code}"
        with contextlib.suppress(ValueError):  # a server dying under the fault may not answer JSON
            kind += ":" + str(r.json().get("code"))
        self.stats.error(kind)

    def start(self) -> Load:
        deadline = time.monotonic() + self.max_seconds
        self._workers = [threading.Thread(target=self._work, args=(deadline,), daemon=True,
                                          name=f"load-{i}") for i in range(self.threads)]
        for w in self._workers:
            w.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Ask every thread to stop and wait for its request in flight (bounded by the client timeout)."""
        self._stop.set()
        for w in self._workers:
            w.join(timeout)

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def status_online(net: LocalNetwork, cid: str, timeout: float = 20.0) -> bool:
    """Whether the company's retained status topic says "online" within `timeout` (read as the dashboard)."""
    import json

    password = json.loads((net.run_dir / "service-logins.json").read_text())[cid]["dashboard"]
    seen = threading.Event()
    client = new_client(f"chaos-{uuid.uuid4().hex[:8]}", "dashboard", password)

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(topics.server_status(cid), qos=1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == b"online":
            seen.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect_async(net.companies[cid].broker_host, net.companies[cid].broker_port)
    client.loop_start()
    try:
        return seen.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


@dataclass
class Trial:
    """One fault, what the load saw around it, and what the checker said after recovery."""

    number: int
    fault: str
    target: str
    stats: LoadStats
    recovery_s: float
    violations: list[Violation]
    lost: list[str]  # trips a client was told CONFIRMED that are not committed in the coordinator's log
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.lost and not self.notes

    def line(self) -> str:
        errs = ",".join(f"{k}={v}" for k, v in sorted(self.stats.errors.items())) or "-"
        codes = ",".join(f"{k}={v}" for k, v in sorted(self.stats.refusals.items())) or "-"
        return (f"trial {self.number:3d} {self.fault:17s} {self.target:10s} requests={self.stats.requests:3d} "
                f"confirmed={len(self.stats.confirmed):3d} cancelled={self.stats.cancelled:3d} "
                f"charged={self.stats.charged:3d} refused={self.stats.refused:3d}[{codes}] errors[{errs}] "
                f"recovery={self.recovery_s:5.1f}s violations={len(self.violations)} lost={len(self.lost)}"
                + (" " + "; ".join(self.notes) if self.notes else ""))


def sign_up_drivers(net: LocalNetwork, per_home: int = 3, seed: int = 0, from_days: float = 0.0) -> list[Driver]:
    """Drivers at each home company that coordinates a route (sign-up is a slow scrypt: few of them), booking
    over the 30 days from `from_days` ahead."""
    homes = sorted({h for h, _, _ in ROUTES})
    drivers = [Driver.sign_up(net, home, seed * 1000 + i * 10 + j)
               for i, home in enumerate(homes) for j in range(per_home)]
    for driver in drivers:
        driver.from_days = from_days
    return drivers


def committed_trips(net: LocalNetwork) -> set[str]:
    """Trip ids with a TripCommitted in any coordinator's log."""
    logs = net.read_logs()
    return {e.data["trip_id"] for events in logs.values() for e in events if e.type == "TripCommitted"}


def fail_points(net: LocalNetwork, company: str, rng: random.Random, share: float = 0.1) -> list[str]:
    """An operator puts a share of the company's points OUTOFORDER (over REST); the points failed."""
    token = json.loads((net.run_dir / "service-logins.json").read_text())[company]["operator"]
    points = [p.id for s in net.network.stations_of(company) for p in s.points]
    failed = rng.sample(points, max(1, round(share * len(points))))
    for point in failed:
        r = httpx.put(f"{net.companies[company].api_url}/api/v1/points/{point}/status",
                      json={"status": "OUT_OF_ORDER", "reason": "chaos"}, headers={"X-Operator-Token": token},
                      timeout=10)
        r.raise_for_status()
    return failed


def run_trial(net: LocalNetwork, drivers: list[Driver], number: int, rng: random.Random, fault: str | None = None,
              threads: int = 4, settle_timeout: float = 45.0, log: Callable[[str], None] = lambda _: None) -> Trial:
    """Load the network, inject one fault, recover, stop the load, and check every invariant."""
    fault = fault or rng.choice(FAULTS)
    companies = list(net.companies)
    target = {"kill-coordinator": COORDINATOR, "kill-participant": PARTICIPANT}.get(fault) or rng.choice(companies)
    notes: list[str] = []
    load = Load(drivers, threads, seed=rng.randrange(1 << 30), max_requests=400, max_seconds=90).start()
    try:
        time.sleep(rng.uniform(0.5, 1.5))  # let bookings be in flight when the fault hits
        log(f"trial {number}: {fault} {target}")
        if fault in ("kill-coordinator", "kill-participant"):
            net.kill_server(target)  # SIGKILL: no shutdown hook runs, as in a power cut
            time.sleep(rng.uniform(0.2, 1.5))
            net.start_server(target, timeout=60)
        elif fault == "kill-broker":
            broker = net.companies[target].broker
            assert broker is not None
            broker.kill()
            time.sleep(rng.uniform(0.2, 1.5))
            net.start_broker(target)
        elif fault == "fail-points":
            # Chargers fail under load (their reservations move or are re-booked), then the company's server
            # is SIGKILLed before it may have told every coordinator: the restart must finish the job.
            failed = fail_points(net, target, rng)
            log(f"trial {number}: points failed at {target}: {', '.join(failed)}")
            time.sleep(rng.uniform(0.0, 0.5))
            net.kill_server(target)
            time.sleep(rng.uniform(0.2, 1.0))
            net.start_server(target, timeout=60)
        elif fault == "pause-server":
            net.kill_server(target, signal.SIGSTOP)  # a partition: the process is alive but answers nobody
            try:
                time.sleep(rng.uniform(2.0, 4.0))
            finally:
                net.kill_server(target, signal.SIGCONT)
        else:
            raise ValueError(f"unknown fault {fault!r}")
        time.sleep(1.0)  # bookings go on after recovery, too
    finally:
        load.stop()
    if fault == "kill-broker" and not status_online(net, target):
        notes.append(f"{target}'s server did not say online on its restarted broker")
    violations, recovery = settle(net, settle_timeout)
    committed = committed_trips(net)
    lost = sorted(t for t in load.stats.confirmed if t not in committed)
    for cid, proc in net.companies.items():
        if proc.server is None or proc.server.poll() is not None:
            notes.append(f"server {cid} is not running after the trial")
    return Trial(number, fault, target, load.stats, recovery, violations, lost, notes)

