"""The test harness every directory shares: live networks, the network data, PostgreSQL, and markers by cost.

Markers (registered in pyproject.toml): `integration` (starts real processes), `browser` (a headless
Chromium), `slow` (in-process but seconds each); every other test is `unit`, so `pytest -m unit` runs in
seconds. A test that uses a fixture starting processes is `integration` whether its module says so or not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from servers.world.network import Network, load_network
from tests.live import LiveNetworks
from tests.postgres import PostgresCluster, PostgresUnavailable

#: Fixtures that start real processes (Mosquitto, servers, PostgreSQL, network namespaces).
PROCESS_FIXTURES = frozenset({"live_network", "postgres", "broker", "login_broker", "fed"})
COST_MARKERS = ("integration", "browser", "slow")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses = getattr(item, "fixturenames", ())
        if PROCESS_FIXTURES.intersection(uses) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if not any(item.get_closest_marker(name) for name in COST_MARKERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def live_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNetworks]:
    """Factory of live networks: `with live_network("name", mqtt=False) as net:` (tests/live.py).

    Session-wide, so a fixture of any scope may start one; each network stops when its `with` ends.
    """
    networks = LiveNetworks(tmp_path_factory)
    try:
        yield networks
    finally:
        networks.stop_all()


@pytest.fixture(scope="module")
def network() -> Network:
    """The network data (cities, roads, companies, stations): servers/data/network.json."""
    return load_network()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server on a free loopback port (skips with the reason when it cannot run here).

    `RECARGA_REQUIRE_POSTGRES=1` (CI) turns that skip into a failure.
    """
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if os.environ.get("RECARGA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"PostgreSQL cannot run here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
