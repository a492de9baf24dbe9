"""`python -m vehicle_sim`: the terminal client (menus), `drive` a booked trip, `fleet` load generator.

Exit codes: 0 done (a drive that kept its promise, a fleet without errors),
1 the drive or the fleet had problems, 2 bad configuration or arguments,
3 the server refused or could not be reached.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .config import DEFAULT_COMPANY, ConfigError, Endpoint, endpoint_of, load_endpoints
from .drive import DriveError, Telemetry, drive_trip
from .errors import ClientError
from .fleet import run_fleet, summary_table
from .menus import App, Terminal, report_panel
from .session import VehicleSession
from .views import error_panel

app = typer.Typer(add_completion=False, no_args_is_help=False, rich_markup_mode="rich",
                  help="The simulated vehicle of recarga: book, drive, and load the network.")

ClientsOpt = Annotated[Path | None, typer.Option("--clients", help="clients.json written by the launcher "
                                                  "[default: $RECARGA_CLIENTS_FILE or run/clients.json]")]
CompanyOpt = Annotated[str, typer.Option("--company", help="the home company")]


def _endpoint(console: Console, clients: Path | None, company: str) -> Endpoint:
    try:
        return endpoint_of(load_endpoints(clients), company)
    except ConfigError as exc:
        console.print(error_panel(exc))
        raise typer.Exit(2) from None


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context, clients: ClientsOpt = None, company: CompanyOpt = DEFAULT_COMPANY,
         seed: Annotated[int | None, typer.Option(help="seed of the Faker form offered at sign-up")] = None) -> None:
    """Without a command: the terminal client (login, create account, reservations, credit, cancel, drive)."""
    if ctx.invoked_subcommand is not None:
        return
    console = Console()
    endpoint = _endpoint(console, clients, company)
    raise typer.Exit(App(endpoint, Terminal(console), fake_seed=seed).run())


@app.command()
def drive(
    trip: Annotated[str, typer.Option("--trip", help="the id of a confirmed trip of this vehicle")],
    login: Annotated[str | None, typer.Option(help="CPF or e-mail [default: asked]")] = None,
    password: Annotated[str | None, typer.Option(help="password [default: $RECARGA_PASSWORD, else asked]")] = None,
    speedup: Annotated[float, typer.Option(help="simulated seconds per real second", min=1.0)] = 120.0,
    profile: Annotated[str | None, typer.Option(help="drive economic|normal|aggressive instead of "
                                                     "the account's profile")] = None,
    clients: ClientsOpt = None,
    company: CompanyOpt = DEFAULT_COMPANY,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON at the end")] = False,
) -> None:
    """Drive a booked trip in accelerated time: telemetry, check-in at every stop, the charge at the end."""
    console = Console()
    endpoint = _endpoint(console, clients, company)
    who = login or console.input("CPF or e-mail: ")
    secret = password or os.environ.get("RECARGA_PASSWORD") or console.input("Password: ", password=True)
    def show(t: Telemetry) -> None:
        console.print(t.line(), markup=False, highlight=False, soft_wrap=True)

    try:
        with VehicleSession.login(endpoint, who, secret) as session:
            report = drive_trip(session, trip, speedup=speedup, profile=profile, on_telemetry=show)
    except (ClientError, DriveError, ConfigError) as exc:
        console.print(error_panel(exc))
        raise typer.Exit(3) from None
    console.print(report_panel(report))
    if as_json:
        console.print_json(json.dumps({
            "trip_id": report.trip_id, "ok": report.ok, "arrived": report.arrived, "final_kwh": report.final_kwh,
            "promised_kwh": report.promised_kwh, "tolerance_kwh": report.tolerance_kwh,
            "check_ins": [vars(c) for c in report.check_ins], "problems": report.problems}))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def fleet(
    vehicles: Annotated[int, typer.Option(help="how many cars", min=1, max=2000)] = 10,
    duration: Annotated[float, typer.Option(help="seconds of booking", min=0.5)] = 30.0,
    companies: Annotated[str | None, typer.Option(help="home companies, comma-separated [default: all]")] = None,
    max_trips: Annotated[int, typer.Option(help="most bookings per car", min=1)] = 1000,
    cancel: Annotated[float, typer.Option(help="fraction of confirmed trips cancelled", min=0.0, max=1.0)] = 0.2,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    clients: ClientsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON at the end")] = False,
) -> None:
    """Load generator: N Faker cars across the companies book random trips for a while; latency summary."""
    console = Console()
    try:
        endpoints = load_endpoints(clients)
        homes = [c.strip() for c in companies.split(",") if c.strip()] if companies else None
        summary = run_fleet(endpoints, vehicles=vehicles, duration=duration, companies=homes, max_trips=max_trips,
                            cancel_fraction=cancel, seed=seed, console=console)
    except (ConfigError, ValueError) as exc:
        console.print(error_panel(exc))
        raise typer.Exit(2) from None
    console.print(summary_table(summary))
    if as_json:
        console.print_json(json.dumps(summary))
    raise typer.Exit(0 if summary["errors_total"] == 0 else 1)
