"""The federation across real network boundaries: booking, cancel and the chaos checks, each company on its host.

Each company's broker and server run in a network namespace of their own,
at their own address; servers reach each other by address; vehicles and the
load come from the root namespace, as from another machine.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from events.store import SqliteEventStore
from tests.chaos.harness import FAULTS, Driver, run_trial
from tests.live import signup_form
from tests.multihost.federation import Federation
from vehicle_sim.client import VehicleClient, signup
from vehicle_sim.config import load_endpoints

pytestmark = pytest.mark.integration


def netns_of(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def types_at(fed: Federation, company: str, trip_id: str) -> list[str]:
    with SqliteEventStore(fed.net.log_path(company), create=False) as store:
        return [e.type for e in store.iter_all() if e.data.get("trip_id") == trip_id]


def test_every_company_runs_in_a_namespace_of_its_own_and_is_reached_by_its_address(
        fed: Federation) -> None:
    namespaces = set()
    for cid, proc in fed.net.companies.items():
        assert proc.server is not None and proc.broker is not None and proc.broker.pid is not None
        server_ns, broker_ns = netns_of(proc.server.pid), netns_of(proc.broker.pid)
        assert server_ns == broker_ns != netns_of(os.getpid())  # broker and server share their host only
        namespaces.add(server_ns)
        assert proc.api_url == f"http://{fed.hosts.address(cid)}:{proc.api_port}"
        with pytest.raises(OSError):  # nothing of it listens in the root namespace
            socket.create_connection(("127.0.0.1", proc.api_port), timeout=1).close()
        peers = fed.net.server_settings(cid)["RECARGA_PEERS"]
        assert "127.0.0.1" not in peers and fed.hosts.proxy_address in peers
    assert len(namespaces) == len(fed.net.companies)


def test_a_vehicle_on_another_host_books_and_cancels_a_trip_across_three_companies(
        fed: Federation) -> None:
    home = load_endpoints(fed.net.clients_file)["voltpoint"]  # all a vehicle elsewhere knows: clients.json
    assert home.broker_host == fed.hosts.address("voltpoint")
    form = signup_form(1501)
    session = signup(home.broker_host, home.broker_port, "voltpoint", form, username=home.signup_username,
                     password=home.signup_password)
    car = VehicleClient(home.broker_host, home.broker_port, "voltpoint", session["vehicle_id"],
                        session["broker"]["username"], session["broker"]["password"], resend_interval=1.0)
    car.connect(timeout=10)
    car.token = session["token"]
    try:
        departure = (datetime.now(UTC) + timedelta(days=40, hours=random.randrange(24))).isoformat()
        trip = car.request("book", 30, request_id=uuid.uuid4().hex, origin="salvador", destination="fortaleza",
                           departure=departure)
        assert trip["status"] == "RESERVED"
        assert {s["company_id"] for s in trip["stops"]} == {"voltpoint", "eflux", "ecocharge"}
        assert fed.net.settle(30)[0] == []  # phase two reaches the other hosts after the vehicle's answer
        for participant in ("eflux", "ecocharge"):
            assert "HoldsConfirmed" in types_at(fed, participant, trip["trip_id"])
        cancelled = car.request("cancel", 30, trip_id=trip["trip_id"])
        assert cancelled["status"] == "CANCELED"
        assert fed.net.settle(30)[0] == []
        for participant in ("eflux", "ecocharge"):
            assert types_at(fed, participant, trip["trip_id"])[-1] == "HoldsReleased"
    finally:
        car.close()


@pytest.mark.timeout(150)
@pytest.mark.parametrize("fault", FAULTS)
def test_one_fault_under_load_across_hosts_loses_nothing_and_converges(fed: Federation, drivers: list[Driver],
                                                                      fault: str) -> None:
    trial = run_trial(fed.net, drivers, FAULTS.index(fault) + 1, random.Random(1500 + FAULTS.index(fault)),
                      fault=fault, threads=3, settle_timeout=45)
    assert trial.stats.requests > 0, "the load sent nothing: the trial proved nothing"
    assert len(trial.stats.confirmed) > 0, trial.line()
    assert trial.violations == [], "\n".join(map(str, trial.violations))
    assert trial.lost == [], f"trips confirmed to a client but not committed: {trial.lost}"
    assert trial.notes == []
