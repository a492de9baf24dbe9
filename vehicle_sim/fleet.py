"""A load generator: N Faker vehicles across the companies, booking (and cancelling) random trips.

    summary = run_fleet(load_endpoints(), vehicles=20, duration=30)

Each vehicle signs up at a home company (spread round-robin over the
companies), then books trips between random pairs of cities, each departing
1–48 h from now and after the car's last booked trip arrives, until the duration is over or it has booked `max_trips`;
it cancels some of the trips it got. The summary counts confirmed bookings,
refusals by their code (POINT_TAKEN, OUT_OF_RANGE, …), errors by kind, and
the latency of `book` (p50/p95/p99, ms). A book can still be in flight when
the time is up: the run ends at most one book timeout (and its one retry)
after `duration`.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contract.fake import fake_vehicle_form

from .config import Endpoint, NetworkInfo, fetch_network
from .errors import ClientError, ConnectFailed, ReplyError, RequestTimeout
from .session import VehicleSession


@dataclass
class FleetStats:
    """Counters shared by the vehicles' threads (every change under the lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    signed_up: int = 0
    confirmed: int = 0
    cancelled: int = 0
    top_ups: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def count(self, what: str, code: str | None = None, latency_ms: float | None = None) -> None:
        """Record one outcome: confirmed, cancelled, top_ups, signed_up, refused (code), error (code)."""
        with self.lock:
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            if what == "refused":
                self.refused[code or "REJECTED"] += 1
            elif what == "error":
                self.errors[code or "ERROR"] += 1
            else:
                setattr(self, what, getattr(self, what) + 1)

    def line(self) -> str:
        """A one-line summary for the progress bar."""
        with self.lock:
            return (f"{self.signed_up} cars · {self.confirmed} ok · {sum(self.refused.values())} refused · "
                    f"{sum(self.errors.values())} errors")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between the closest ranks; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _error_code(exc: ClientError) -> str:
    if isinstance(exc, RequestTimeout):
        return "TIMEOUT"
    if isinstance(exc, ConnectFailed):
        return "CONNECT_FAILED"
    if isinstance(exc, ReplyError):
        return exc.code
    return "CLIENT_ERROR"


class _Car:
    """One simulated driver of the fleet."""

    def __init__(self, index: int, endpoint: Endpoint, rng: random.Random, stats: FleetStats,
                 credit: float, timeout: float) -> None:
        self.index, self.endpoint, self.rng, self.stats = index, endpoint, rng, stats
        self.credit, self.timeout = credit, timeout
        self.session: VehicleSession | None = None
        self.free_from = datetime.now(UTC)  # when the car's last booked trip arrives

    def sign_up(self) -> None:
        form = {**fake_vehicle_form(self.rng.getrandbits(63)), "initial_credit": self.credit}
        try:
            self.session = VehicleSession.signup(self.endpoint, form, resend_interval=2.0)
            self.stats.count("signed_up")
        except ClientError as exc:
            self.stats.count("error", "signup:" + _error_code(exc))

    def drive_around(self, cities: list[str], deadline: float, max_trips: int, cancel_fraction: float,
                     stop: threading.Event) -> None:
        """Book random trips until the deadline, `max_trips`, or `stop`."""
        if self.session is None:
            return
        for _ in range(max_trips):
            if time.monotonic() >= deadline or stop.is_set():
                return
            origin, destination = self.rng.sample(cities, 2)
            # A car is in one place at a time: its next trip leaves after the last one it booked arrives.
            departure = max(datetime.now(UTC) + timedelta(hours=self.rng.uniform(1.0, 48.0)),
                            self.free_from + timedelta(hours=self.rng.uniform(0.5, 6.0)))
            started = time.perf_counter()
            try:
                trip = self.session.request("book", self.timeout, origin=origin, destination=destination,
                                            departure=departure.isoformat())
            except ReplyError as exc:
                latency = 1000 * (time.perf_counter() - started)
                refused = exc.details.get("status") in ("REJECTED", "FAILED")
                self.stats.count("refused" if refused else "error", exc.code, latency)
                if exc.code == "INSUFFICIENT_CREDIT":
                    self._top_up()
                continue
            except ClientError as exc:
                self.stats.count("error", _error_code(exc))
                continue
            self.stats.count("confirmed", latency_ms=1000 * (time.perf_counter() - started))
            self.free_from = max(self.free_from, datetime.fromisoformat(trip["plan"]["arrival"]))
            if self.rng.random() < cancel_fraction:
                try:
                    self.session.request("cancel", self.timeout, trip_id=trip["trip_id"])
                    self.stats.count("cancelled")
                except ClientError as exc:
                    self.stats.count("error", "cancel:" + _error_code(exc))

    def _top_up(self) -> None:
        """A driver whose credit ran out adds some (as a person would), so the load keeps booking."""
        assert self.session is not None
        try:
            self.session.request("add_credit", self.timeout, amount=min(self.credit, 10_000.0))
            self.stats.count("top_ups")
        except ClientError as exc:
            self.stats.count("error", "add_credit:" + _error_code(exc))

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def run_fleet(
    endpoints: dict[str, Endpoint],
    *,
    vehicles: int,
    duration: float,
    companies: list[str] | None = None,
    max_trips: int = 1000,
    cancel_fraction: float = 0.2,
    credit: float = 5000.0,
    seed: int | None = None,
    timeout: float = 30.0,
    network: NetworkInfo | None = None,
    console: Console | None = None,
    on_progress: Callable[[FleetStats, float], None] | None = None,
) -> dict[str, Any]:
    """Sign up `vehicles` cars, let them book for `duration` seconds, and return the summary dict.

    `companies`: the home companies to spread the cars over (all by default).
    `console`: show a progress bar there. The summary's keys: vehicles,
    companies, duration_s, elapsed_s, bookings, confirmed, refused {code: n},
    refused_total, cancelled, credit_top_ups, errors {code: n}, errors_total, bookings_per_s,
    latency_ms {p50, p95, p99, mean, max, n} (of every answered `book`).
    """
    if vehicles < 1 or duration <= 0:
        raise ValueError("vehicles must be >= 1 and duration > 0")
    homes = companies or sorted(endpoints)
    unknown = [c for c in homes if c not in endpoints]
    if unknown:
        raise ValueError(f"unknown companies: {', '.join(unknown)}; known: {', '.join(sorted(endpoints))}")
    rng = random.Random(seed)
    net = network or fetch_network(endpoints[homes[0]])
    cities = [c.id for c in net.cities]
    stats = FleetStats()
    cars = [_Car(i, endpoints[homes[i % len(homes)]], random.Random(rng.getrandbits(64)), stats, credit, timeout)
            for i in range(vehicles)]
    stop = threading.Event()
    begun = time.monotonic()
    progress = _progress(console)
    with ThreadPoolExecutor(max_workers=min(vehicles, 64), thread_name_prefix="fleet") as pool:
        for future in [pool.submit(car.sign_up) for car in cars]:
            future.result()
        started = time.monotonic()
        deadline = started + duration
        runs = [pool.submit(car.drive_around, cities, deadline, max_trips, cancel_fraction, stop) for car in cars]
        interrupted = False
        try:
            with progress if progress is not None else contextlib.nullcontext():
                task = progress.add_task(stats.line(), total=duration) if progress else None
                while not all(f.done() for f in runs):
                    elapsed = min(duration, time.monotonic() - started)
                    if progress is not None and task is not None:
                        progress.update(task, completed=elapsed, description=stats.line())
                    if on_progress is not None:
                        on_progress(stats, elapsed)
                    time.sleep(0.2)
                if progress is not None and task is not None:
                    progress.update(task, completed=duration, description=stats.line())
        except KeyboardInterrupt:
            interrupted = True  # Ctrl-C: stop the cars and summarise what was done so far
        finally:
            stop.set()  # Ctrl-C: the cars stop after the book in flight
            for f in runs:
                f.result()
        ended = time.monotonic()
        list(pool.map(lambda car: car.close(), cars))
    summary = _summary(stats, vehicles, homes, duration, ended - started, ended - begun)
    summary["interrupted"] = interrupted
    return summary


def _progress(console: Console | None) -> Progress | None:
    if console is None:
        return None
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                    TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=console, transient=False)


def _summary(stats: FleetStats, vehicles: int, homes: list[str], duration: float, elapsed: float,
             total: float) -> dict[str, Any]:
    with stats.lock:
        lat = list(stats.latencies_ms)
        refused, errors = dict(stats.refused), dict(stats.errors)
        confirmed, cancelled, signed_up = stats.confirmed, stats.cancelled, stats.signed_up
        top_ups = stats.top_ups
    # Errors of other operations carry their op as a prefix ("cancel:TIMEOUT"); the rest were bookings.
    bookings = confirmed + sum(refused.values()) + sum(v for k, v in errors.items() if ":" not in k)
    return {
        "vehicles": signed_up, "vehicles_requested": vehicles, "companies": homes, "duration_s": duration,
        "elapsed_s": round(elapsed, 3), "total_s": round(total, 3), "bookings": bookings, "confirmed": confirmed,
        "refused": refused, "refused_total": sum(refused.values()), "cancelled": cancelled, "credit_top_ups": top_ups,
        "errors": errors, "errors_total": sum(errors.values()),
        "bookings_per_s": round(bookings / elapsed, 3) if elapsed > 0 else 0.0,
        "latency_ms": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                       "p99": round(percentile(lat, 99), 2),
                       "mean": round(sum(lat) / len(lat), 2) if lat else 0.0,
                       "max": round(max(lat), 2) if lat else 0.0, "n": len(lat)},
    }


def summary_table(summary: dict[str, Any]) -> Table:
    """The summary for people."""
    table = Table(title="Fleet summary", show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    lat = summary["latency_ms"]
    table.add_row("vehicles", f"{summary['vehicles']}/{summary['vehicles_requested']} "
                              f"({', '.join(summary['companies'])})")
    table.add_row("time", f"{summary['elapsed_s']:.1f} s booking ({summary['total_s']:.1f} s in all)"
                  + (" — stopped by Ctrl-C" if summary.get("interrupted") else ""))
    table.add_row("bookings", f"{summary['bookings']} ({summary['bookings_per_s']:.1f}/s)")
    table.add_row("confirmed", str(summary["confirmed"]))
    table.add_row("cancelled", str(summary["cancelled"]))
    table.add_row("credit top-ups", str(summary["credit_top_ups"]))
    table.add_row("refused", _counts(summary["refused"]))
    table.add_row("errors", _counts(summary["errors"]))
    table.add_row("book latency", f"p50 {lat['p50']:.1f} ms · p95 {lat['p95']:.1f} ms · p99 {lat['p99']:.1f} ms "
                                  f"· max {lat['max']:.1f} ms (n={lat['n']})")
    return table


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    return f"{sum(counts.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
