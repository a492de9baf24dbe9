"""`python -m mosquitto` (`recarga-broker`): write one company's broker files, add or remove users, hash a password,
health check.

Exit codes: 0 done, 1 nothing done (no such user, no broker answering), 2 bad usage.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from .acl import AclFile
from .config import render_config
from .passwords import PasswordFile, hash_broker_password

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Broker files and logins of one recarga company.")


@app.command()
def render(
    company: Annotated[str, typer.Option(help="the company id")],
    port: Annotated[int, typer.Option(help="the listener's port")],
    directory: Annotated[Path, typer.Option("--dir", help="where mosquitto.conf, acl and passwd go")],
    bind: Annotated[str, typer.Option(help="listener address (0.0.0.0 in a container)")] = "127.0.0.1",
) -> None:
    """Write mosquitto.conf, acl and an (empty) passwd into --dir."""
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "passwd"
    acl_file = AclFile(company).write(directory / "acl")
    if not password_file.exists():
        PasswordFile(password_file).set_many({})
    config = directory / "mosquitto.conf"
    config.write_text(render_config(port, directory / "data", password_file, acl_file, bind=bind), encoding="utf-8")
    typer.echo(f"wrote {config}, {acl_file}, {password_file}")
    typer.echo(f"start: mosquitto -c {config}")


@app.command()
def user(
    file: Annotated[Path, typer.Argument(help="the password file")],
    username: Annotated[str, typer.Argument()],
    password: Annotated[str | None, typer.Option(help="asked on the terminal when omitted")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the user instead")] = False,
) -> None:
    """Add or update a user, or --remove it; then SIGHUP the broker."""
    passwords = PasswordFile(file)
    if remove:
        if not passwords.remove(username):
            typer.echo(f"{username}: not in {file}", err=True)
            raise typer.Exit(1)
        return
    passwords.set(username, password if password is not None else getpass.getpass(f"password for {username}: "))


@app.command("hash")
def hash_command(password: Annotated[str | None, typer.Option(help="asked on the terminal when omitted")] = None,
                 ) -> None:
    """Print a $7$ hash, as mosquitto_passwd would store it."""
    typer.echo(hash_broker_password(password if password is not None else getpass.getpass("password: ")))


def connack(host: str, port: int, timeout: float) -> int | None:
    """Send a bare MQTT 3.1.1 CONNECT (no login) and return the CONNACK's return code, or None.

    Any CONNACK proves the broker is up and speaking MQTT; with logins
    required it is 5 (not authorised), which is the healthy answer here.
    """
    client_id = f"health-{os.getpid()}".encode()
    variable = b"\x00\x04MQTT\x04\x02\x00\x0a"  # protocol name, level 4, clean session, keepalive 10 s
    body = variable + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(bytes([0x10, len(body)]) + body)
            reply = sock.recv(4)
    except OSError:
        return None
    if len(reply) == 4 and reply[0] == 0x20 and reply[1] == 0x02:
        return reply[3]
    return None


@app.command()
def health(
    port: Annotated[int, typer.Option(help="the broker's port")],
    host: Annotated[str, typer.Option(help="the broker's address")] = "127.0.0.1",
    timeout: Annotated[float, typer.Option(help="seconds")] = 3.0,
) -> None:
    """Exit 0 if a broker answers MQTT on --host:--port (a health check)."""
    if connack(host, port, timeout) is None:
        typer.echo(f"no MQTT broker answering on {host}:{port}", err=True)
        raise typer.Exit(1)


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> int:
    """Run the CLI on `argv` (default: the command line); return the exit code."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name=prog_name)
    except SystemExit as done:  # click ends every run, good or bad, with one
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    except ValueError as exc:  # a bad company id, username or password, from the files' own checks
        typer.echo(f"error: {exc}", err=True)
        return 2
    return 0
