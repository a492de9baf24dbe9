"""The `recarga` command: the whole network (up, down, check, config, secrets, compose, export-api).

It also carries one server's `serve` and `health` (from `servers.cli`), so `recarga serve --company X` works as
before; `python -m federation …` is the same app, `python -m servers serve` the server alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from servers.cli import health, serve

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="recarga: the whole network, and one company's server")
app.command()(serve)
app.command()(health)


@app.command()
def up(
    run_dir: Annotated[Path, typer.Option(help="configs, credentials, logs and event logs go here")] = Path("run"),
    dashboards: Annotated[bool, typer.Option(help="also start the Streamlit dashboards")] = True,
    dashboard_port: Annotated[int, typer.Option(help="port of the dashboards")] = 8501,
    network_file: Annotated[Path | None, typer.Option(help="network description")] = None,
) -> None:
    """Start the whole network on this machine (a broker and a server per company, the dashboards)."""
    import json
    import os
    import signal
    import time

    from federation.launcher import LocalNetwork

    net = LocalNetwork(run_dir, network_file=network_file, dashboards=dashboards, dashboard_port=dashboard_port)
    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        net.start()
    except (RuntimeError, OSError) as exc:  # start() has stopped what it started
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    (net.run_dir / "up.pid").write_text(str(os.getpid()))
    pids = {cid: p.server.pid for cid, p in net.companies.items() if p.server is not None}
    (net.run_dir / "pids.json").write_text(json.dumps(pids))
    typer.echo("recarga is up:")
    for line in net.addresses():
        typer.echo("  " + line)
    typer.echo(f"  clients' config: {net.clients_file}")
    typer.echo("Ctrl-C (or `recarga down`) stops everything.")
    try:
        while not stopping:
            for cid, p in net.companies.items():
                if p.server is not None and p.server.poll() is not None:
                    typer.echo(f"server {cid} exited ({p.server.returncode}); restarting it", err=True)
                    net.start_server(cid, wait=False)
            time.sleep(0.5)
    finally:
        typer.echo("stopping…")
        net.stop()
        (net.run_dir / "up.pid").unlink(missing_ok=True)


@app.command()
def down(
    run_dir: Annotated[Path, typer.Option(help="the run directory of `up`")] = Path("run"),
) -> None:
    """Stop a network started by `up` (from another terminal)."""
    import os
    import signal

    pid_file = run_dir / "up.pid"
    if not pid_file.exists():
        typer.echo("nothing is running here")
        return
    try:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    except (OSError, ValueError) as exc:
        typer.echo(f"could not stop it: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo("stopping the network")


@app.command()
def check(
    logs: Annotated[list[str], typer.Argument(help="every company's event log: files (run/data/*.db) or "
                                                  "postgresql:// URLs")],
    converged: Annotated[bool, typer.Option(help="also demand every decision reached every participant")] = False,
) -> None:
    """Check the network's invariants from the event logs alone; exit 1 listing each violation.

    Exit 0: clean. 1: a violation, or a log whose hash chain is broken. 2: a log that cannot be read (missing,
    not SQLite, damaged pages, a database that does not answer), or no event log at all. A snapshot file — the
    server's `{company}.snapshots.db` beside its log, which `run/data/*.db` also matches — is skipped, saying so.
    """
    from federation.invariants import check as check_logs
    from federation.logfiles import LogUnreadable, SnapshotFile, read_log

    events = {}
    for path in logs:
        try:
            company, found = read_log(path)
        except SnapshotFile:
            typer.echo(f"skipped {path}: a snapshot file (saved states), not an event log", err=True)
            continue
        except LogUnreadable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1 if exc.tampered else 2) from None
        events[company] = found
    if not events:
        typer.echo("error: no event log among the files given", err=True)
        raise typer.Exit(2)
    violations = check_logs(events, converged=converged)
    for v in violations:
        typer.echo(str(v))
    total = sum(len(e) for e in events.values())
    typer.echo(f"{len(violations)} violation(s) in {total} events of {len(events)} log(s)")
    raise typer.Exit(1 if violations else 0)


@app.command()
def config(
    run_dir: Annotated[Path, typer.Option(help="where configs and credentials are written")] = Path("run"),
    company: Annotated[str | None, typer.Option(help="only this company's broker files (one host = one company)")]
    = None,
    secrets_dir: Annotated[Path | None, typer.Option(help="with --company: its directory from `federation secrets`")]
    = None,
    containers: Annotated[bool, typer.Option(help="brokers listen on 0.0.0.0")] = False,
    network_file: Annotated[Path | None, typer.Option(help="network description")] = None,
) -> None:
    """Write broker configs, logins, ACLs (and, for the whole network, peer secrets and clients.json)."""
    bind = "0.0.0.0" if containers else "127.0.0.1"
    if company is None:
        from federation.launcher import LocalNetwork

        net = LocalNetwork(run_dir, network_file=network_file, bind=bind)
        net.prepare()
        typer.echo(f"configuration written to {net.run_dir}")
        return
    from federation.deploy import write_company
    from servers.world.network import load_network

    if secrets_dir is None:
        typer.echo("error: --company needs --secrets-dir (written by `python -m federation secrets`)", err=True)
        raise typer.Exit(2)
    network = load_network(network_file)
    try:
        network.company(company)
        broker = write_company(run_dir, network, company, secrets_dir, bind)
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{company}'s broker configuration written to {broker.run_dir}")


@app.command("secrets")
def secrets_cmd(
    out: Annotated[Path, typer.Option(help="one directory per company, and clients.json")] = Path("secrets"),
    hosts_file: Annotated[Path | None, typer.Option(help="VOLTPOINT_HOST=… lines (as given to docker compose "
                                                         "--env-file); default: the environment, else 127.0.0.1")]
    = None,
    network_file: Annotated[Path | None, typer.Option(help="network description")] = None,
) -> None:
    """Make the secrets of companies on distinct hosts (kept if present) and the clients.json of their addresses."""
    from federation.deploy import read_hosts, write_secrets
    from servers.world.network import load_network

    network = load_network(network_file)
    try:
        hosts = read_hosts(network, hosts_file)
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for path in write_secrets(out, network, hosts):
        typer.echo(f"wrote {path}")
    typer.echo("copy each company's directory to its host only; clients.json is for vehicles and dashboards")


@app.command("compose")
def compose_cmd(
    network_file: Annotated[Path | None, typer.Option(help="network description")] = None,
) -> None:
    """Print compose.yaml for the network file (`python -m federation compose > compose.yaml`)."""
    import yaml

    from federation.compose import compose
    from servers.world.network import load_network

    header = "# Generated by `python -m federation compose` from the network file; do not edit by hand.\n"
    typer.echo(header + yaml.safe_dump(compose(load_network(network_file)), sort_keys=False), nl=False)


@app.command("export-api")
def export_api(
    out: Annotated[Path, typer.Option(help="where to write openapi.json and the Postman file")] = Path("docs/api"),
) -> None:
    """Write the OpenAPI document and a Postman/Insomnia collection of the server API."""
    from federation.api_export import export

    for path in export(out):
        typer.echo(f"wrote {path}")


def main() -> None:
    """Entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
