"""Fixtures of the in-process server tests: a trip that crosses companies (the network data: tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from itertools import permutations

import pytest

from contract.models import TripIn
from servers.world.network import Network
from servers.world.planner import plan_trip
from servers.world.vehicles import Vehicle
from tests.live import CAR
from tests.servers.fakes import START, Clock, build_nodes, signup


@pytest.fixture(scope="module")
def cross_trip(network: Network) -> tuple[str, str]:
    """A city pair whose best plan stops at stations of three companies (or as many as the data allows)."""
    car = Vehicle(**{k: CAR[k] for k in ("capacity_kwh", "consumption_kwh_per_km", "charge_kwh", "max_ac_kw",
                                         "max_dc_kw")})
    best: tuple[int, tuple[str, str]] = (0, ("", ""))
    ids = [c.id for c in network.cities]
    for origin, destination in permutations(["salvador", "recife", "fortaleza", "petrolina", "juazeiro-do-norte",
                                             "feira-de-santana", "caruaru", "sobral"], 2):
        if origin not in ids or destination not in ids:
            continue
        try:
            plan = plan_trip(network, origin, destination, START, car)[0]
        except Exception:
            continue
        companies = len({s.company_id for s in plan.stops})
        if companies > best[0]:
            best = (companies, (origin, destination))
    assert best[0] >= 2, "the network data should have a trip across at least two companies"
    return best[1]


@pytest.fixture
def booked(network: Network, cross_trip: tuple[str, str]):
    """A reserved trip across companies, leaving in two hours: (clock, nodes, peers, home, vehicle id, reply)."""
    clock = Clock(START)
    nodes, peers = build_nodes(network, clock)
    home = nodes["voltpoint"]
    vid = signup(home)
    reply = home.coordinator.book(vid, "r1", TripIn(origin=cross_trip[0], destination=cross_trip[1],
                                                    departure=START + timedelta(hours=2)))
    assert reply["status"] == "RESERVED", reply
    return clock, nodes, peers, home, vid, reply
