"""A real local network (brokers + servers on free loopback ports) for the dashboards' tests."""

from __future__ import annotations

import pytest

from servers.launcher import LocalNetwork

FAST = {"RECARGA_TICK_S": "0.2", "RECARGA_SYNCHRONOUS": "NORMAL"}


def start_network(run_dir) -> LocalNetwork:
    net = LocalNetwork(run_dir, free_ports=True, mqtt=True, env=FAST)
    net.start()
    return net


@pytest.fixture(scope="session")
def network(tmp_path_factory):
    """One network for the whole session; the pages find it through RECARGA_CLIENTS_FILE."""
    net = start_network(tmp_path_factory.mktemp("dash-net"))
    with pytest.MonkeyPatch.context() as env:  # put the environment back for the tests that follow
        env.setenv("RECARGA_CLIENTS_FILE", str(net.clients_file))
        env.setenv("RECARGA_MAP_TILES", "none")  # no internet needed to draw a map
        yield net
    net.stop()
