"""A live network (Mosquitto and a server per company, free loopback ports) for the vehicle's tests."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from federation.launcher import LocalNetwork
from tests.live import LiveNetworks
from vehicle_sim.config import Endpoint, load_endpoints
from vehicle_sim.menus import App, Terminal, scripted_input


@pytest.fixture(scope="package")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("vehicle-net") as running:
        yield running


@pytest.fixture(scope="package")
def endpoints(net) -> dict[str, Endpoint]:
    return load_endpoints(net.clients_file)


def run_menus(endpoint: Endpoint, answers: list[str]) -> str:
    """Drive the terminal client with scripted answers; return what a person would have seen."""
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    code = App(endpoint, Terminal(console, scripted_input(answers)), sleep=lambda s: None).run()
    assert code == 0
    return out.getvalue()
