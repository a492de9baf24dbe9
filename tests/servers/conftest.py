"""Fixtures of the in-process server tests: the network data and a trip that crosses companies."""

from __future__ import annotations

from itertools import permutations

import pytest

from servers.core.network import Network, load_network
from servers.core.planner import plan_trip
from servers.core.vehicles import Vehicle
from tests.servers.fakes import START


@pytest.fixture(scope="module")
def network() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def cross_trip(network: Network) -> tuple[str, str]:
    """A city pair whose best plan stops at stations of three companies (or as many as the data allows)."""
    car = Vehicle(capacity_kwh=60.0, consumption_kwh_per_km=0.16, charge_kwh=54.0, max_ac_kw=11.0, max_dc_kw=100.0)
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
