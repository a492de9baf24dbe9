"""A live network for the dashboards' tests, and the environment the pages read it from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from federation.launcher import LocalNetwork
from tests.live import LiveNetworks


@pytest.fixture(scope="session")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    """One network for the whole session; the pages find it through RECARGA_CLIENTS_FILE."""
    with live_network("dash-net") as running, pytest.MonkeyPatch.context() as env:
        # The environment is put back for the tests that follow.
        env.setenv("RECARGA_CLIENTS_FILE", str(running.clients_file))
        env.setenv("RECARGA_MAP_TILES", "none")  # no internet needed to draw a map
        yield running
