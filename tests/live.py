"""What the tests against live networks share: the test car, the fast settings, sign-up forms, networks.

A live network is `federation.launcher.LocalNetwork` — a Mosquitto (optional) and a server per company on
free loopback ports — started by the `live_network` fixture of tests/conftest.py:

    @pytest.fixture(scope="module")
    def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
        with live_network("gateway") as running:
            yield running
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.fake import fake_vehicle_form
from contract.models import PlanIn, SignupIn
from federation.launcher import LocalNetwork

#: The test car: a trip Salvador → Fortaleza with it stops at all three companies.
CAR: dict[str, Any] = {"model": "BYD Yuan Plus", "capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16,
                       "charge_kwh": 54.0, "max_ac_kw": 11.0, "max_dc_kw": 100.0, "profile": "normal"}

#: Every live network's server settings: a fast recovery loop, holds and stale trips resolved in seconds,
#: commits not flushed (a test machine is not a power cut; SQLite's WAL still survives a killed process).
FAST = {"RECARGA_TICK_S": "0.2", "RECARGA_HOLD_TIMEOUT_S": "2", "RECARGA_STALE_TRIP_S": "2",
        "RECARGA_SYNCHRONOUS": "NORMAL"}
#: Over FAST, for the tests of what survives a crash: every commit flushed, as in production.
DURABLE = {"RECARGA_SYNCHRONOUS": "FULL"}


def signup_form(seed: int, credit: float = 3000.0) -> dict[str, Any]:
    """A valid sign-up body for the test car (Faker's owner, reproducible by seed) with `credit` R$."""
    form = {**fake_vehicle_form(seed), **CAR, "initial_credit": credit}
    return {k: v for k, v in form.items() if k in SignupIn.model_fields}


def plan_request(origin: str, destination: str) -> dict[str, Any]:
    """A plan preview body (`POST /api/v1/plan`) for the test car."""
    return {"origin": origin, "destination": destination,
            **{k: v for k, v in CAR.items() if k in PlanIn.model_fields}}


def departure(hours: float = 6) -> str:
    """A departure `hours` from now, to the second, in ISO 8601."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


class Api:
    """A vehicle's view of one server's public API: signed up at construction, then its token on every call."""

    def __init__(self, base: str, form_seed: int, credit: float = 3000.0) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        r = self.http.post("/api/v1/accounts", json=signup_form(form_seed, credit))
        assert r.status_code == 201, r.text
        self.vehicle_id = r.json()["vehicle_id"]
        self.http.headers["Authorization"] = "Bearer " + r.json()["token"]

    def book(self, origin: str, destination: str, when: str, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.post("/api/v1/trips", json={"origin": origin, "destination": destination,
                                                     "departure": when}, headers=headers)


class LiveNetworks:
    """Starts live networks with the FAST settings in temporary directories; `live_network` in tests/conftest.py."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self._tmp = tmp
        self._running: list[LocalNetwork] = []

    @contextmanager
    def __call__(self, name: str = "net", *, mqtt: bool = True, env: dict[str, str] | None = None,
                 run_dir: Path | None = None, timeout: float = 60.0, **options: Any) -> Iterator[LocalNetwork]:
        """A started network (brokers too unless `mqtt=False`), stopped when the block ends, whatever happens.

        `env` goes over FAST; `options` are LocalNetwork's (log_paths, log_urls, hosts, …).
        """
        net = LocalNetwork(run_dir or self._tmp.mktemp(name), free_ports=True, mqtt=mqtt, env={**FAST, **(env or {})},
                           **options)
        self._running.append(net)
        try:
            net.start(timeout=timeout)  # a failed start stops what it started
            yield net
        finally:
            net.stop()
            self._running.remove(net)

    def stop_all(self) -> None:
        """Stop what is still running (a generator never closed); the end of the session calls it."""
        for net in list(self._running):
            net.stop()
        self._running.clear()
