"""`python -m mosquitto`: write one company's broker files, add or remove users, hash a password, health check."""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from .acl import AclFile
from .config import render_config
from .passwords import PasswordFile, hash_broker_password


def _render(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    password_file = run_dir / "passwd"
    acl_file = AclFile(args.company).write(run_dir / "acl")
    if not password_file.exists():
        PasswordFile(password_file).set_many({})
    config = run_dir / "mosquitto.conf"
    config.write_text(
        render_config(args.port, run_dir / "data", password_file, acl_file, bind=args.bind),
        encoding="utf-8",
    )
    print(f"wrote {config}, {acl_file}, {password_file}")
    print(f"start: mosquitto -c {config}")
    return 0


def _user(args: argparse.Namespace) -> int:
    passwords = PasswordFile(args.file)
    if args.remove:
        if not passwords.remove(args.username):
            print(f"{args.username}: not in {args.file}", file=sys.stderr)
            return 1
        return 0
    password = args.password
    if password is None:
        password = getpass.getpass(f"password for {args.username}: ")
    passwords.set(args.username, password)
    return 0


def _hash(args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else getpass.getpass("password: ")
    print(hash_broker_password(password))
    return 0


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


def _health(args: argparse.Namespace) -> int:
    code = connack(args.host, args.port, args.timeout)
    if code is None:
        print(f"no MQTT broker answering on {args.host}:{args.port}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 nothing done, 2 bad usage)."""
    parser = argparse.ArgumentParser(prog="python -m mosquitto", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="write mosquitto.conf, acl and an (empty) passwd into --dir")
    render.add_argument("--company", required=True)
    render.add_argument("--port", type=int, required=True)
    render.add_argument("--dir", required=True)
    render.add_argument("--bind", default="127.0.0.1", help="listener address (0.0.0.0 in a container)")
    render.set_defaults(func=_render)

    user = sub.add_parser("user", help="add/update a user, or --remove it; then SIGHUP the broker")
    user.add_argument("file")
    user.add_argument("username")
    user.add_argument("--password", help="asked on the terminal when omitted")
    user.add_argument("--remove", action="store_true")
    user.set_defaults(func=_user)

    hashp = sub.add_parser("hash", help="print a $7$ hash, as mosquitto_passwd would store it")
    hashp.add_argument("--password")
    hashp.set_defaults(func=_hash)

    health = sub.add_parser("health", help="exit 0 if a broker answers MQTT on --host:--port (a health check)")
    health.add_argument("--host", default="127.0.0.1")
    health.add_argument("--port", type=int, required=True)
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(func=_health)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
