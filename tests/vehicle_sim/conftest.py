"""A real local network (Mosquitto + a server per company, free loopback ports) for the vehicle's tests."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from servers.launcher import LocalNetwork
from vehicle_sim.config import Endpoint, load_endpoints
from vehicle_sim.menus import App, Terminal, scripted_input

#: A car whose trip Salvador → Fortaleza needs stops at all three companies.
CAR = {"model": "BYD Yuan Plus", "capacity_kwh": 60.0, "consumption_kwh_per_km": 0.16, "charge_kwh": 54.0,
       "max_ac_kw": 11.0, "max_dc_kw": 100.0, "profile": "normal"}


@pytest.fixture(scope="package")
def net(tmp_path_factory: pytest.TempPathFactory):
    network = LocalNetwork(tmp_path_factory.mktemp("vehicle-net"), free_ports=True, mqtt=True,
                           env={"RECARGA_TICK_S": "0.2", "RECARGA_SYNCHRONOUS": "NORMAL"})
    network.start()
    yield network
    network.stop()


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
