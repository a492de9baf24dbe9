"""`python -m mosquitto`: write one company's broker files, add or remove users, or hash a password."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from .acl import AclFile
from .config import render_config
from .passwords import PasswordFile, hash_password


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
    print(hash_password(password))
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

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
