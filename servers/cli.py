"""One company server's command line: `serve --company X`, and `health` (a container's health check).

`python -m servers serve` is how the launcher and compose.yaml start a server. The commands that act on the
whole network (up, down, check, config, secrets, compose, export-api) live in `federation.cli`, whose `recarga`
app also carries these two.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="one recarga company server")


@app.command()
def serve(
    company: Annotated[str, typer.Option(help="company id in the network file")],
    port: Annotated[int | None, typer.Option(help="HTTP port (default: the company's api_port)")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP bind address")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="where the event log lives")] = None,
    network_file: Annotated[Path | None, typer.Option(help="network description")] = None,
    log_url: Annotated[str | None, typer.Option(help="the event log: a file, or postgresql://user@host/db "
                                                     "(default: DATA_DIR/COMPANY.db)")] = None,
    no_mqtt: Annotated[bool, typer.Option("--no-mqtt", help="run without the MQTT gateway")] = False,
) -> None:
    """Serve one company: replay its log, then answer vehicles (MQTT) and peers (REST)."""
    import uvicorn

    from events.errors import EventLogError
    from servers.api.app import create_app
    from servers.bootstrap import build_server
    from servers.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per peer request is noise, and costs CPU
    overrides: dict[str, object] = {"company": company}
    for key, value in (("port", port), ("host", host), ("data_dir", data_dir), ("network_file", network_file),
                       ("log_url", log_url)):
        if value is not None:
            overrides[key] = value
    if no_mqtt:
        overrides["mqtt"] = False
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        network = settings.network()
        server = build_server(settings)
    except ValidationError as exc:
        for e in exc.errors():
            where = ".".join(str(part) for part in e["loc"])
            typer.echo(f"error: {where + ': ' if where else ''}{e['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None
    except (ValueError, RuntimeError, OSError, EventLogError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    gateway_factory = None
    if settings.mqtt:
        from servers.adapters.gateway import MqttGateway

        gateway_factory = MqttGateway.factory
    # One event loop holds the whole server (uvloop, and httptools to parse HTTP): see servers/service/engine.py.
    uvicorn.run(create_app(server, gateway_factory), host=settings.host,
                port=settings.port or network.company(company).api_port, log_level="warning",
                loop="uvloop", http="httptools", timeout_keep_alive=60,
                # Nothing reads the client's address: no layer to rewrite it from proxy headers on every request.
                proxy_headers=False, access_log=False)


@app.command()
def health(
    url: Annotated[str, typer.Option(help="the server's base URL")] = "http://127.0.0.1:8101",
    timeout: Annotated[float, typer.Option(help="seconds")] = 3.0,
) -> None:
    """Exit 0 when the server answers /api/v1/health with 200, 1 otherwise (a container health check)."""
    import httpx

    try:
        ok = httpx.get(url.rstrip("/") + "/api/v1/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        ok = False
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    """Entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
