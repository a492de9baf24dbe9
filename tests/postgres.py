"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, one loopback port, removed after.

Debian's `postgresql` package (installed by `make test`, scripts/ensure-postgresql.sh)
puts its programs in /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run
as root, so a root caller runs them as the `postgres` user the package creates
(or `nobody`) through `runuser`; the cluster lives in a temp dir that user owns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

from mosquitto import free_port

# Tests trade durability for speed (the bench keeps the defaults: every commit flushed).
NO_FLUSH = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed here, or its cluster would not start; the message says which."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: _version(p.parent.parent.name))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql, or make test as root)")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _runner() -> tuple[list[str], str | None]:
    """The command prefix that runs PostgreSQL's programs as a user it accepts, and that user's name."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is missing: cannot start PostgreSQL as another user")
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            import pwd

            pwd.getpwnam(user)
            return [runuser, "-u", user, "--"], user
    raise PostgresUnavailable("running as root and neither a postgres nor a nobody user exists")


class PostgresCluster:
    """One PostgreSQL server on 127.0.0.1:`port`, its data in a temp dir; `stop()` removes everything."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bin = bin_dir()
        self.prefix, user = _runner()
        self.root = Path(tempfile.mkdtemp(prefix="recarga-pg-"))
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        self.durable = durable
        self.user = "recarga"
        self._started = False

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.root)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> PostgresCluster:
        """initdb (trust on loopback only: a throwaway cluster), then start and wait until it accepts connections."""
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions")
            options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
            if not self.durable:
                options += " " + NO_FLUSH
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                      "-t", "30", "-o", options, "start")
            self._started = True
        except (PostgresUnavailable, OSError, subprocess.TimeoutExpired) as exc:
            log = self.root / "server.log"
            tail = log.read_text()[-400:] if log.exists() else ""
            self.stop()
            raise PostgresUnavailable(f"{exc} {tail}".strip()) from None
        return self

    def url(self, database: str = "postgres", schema: str | None = None) -> str:
        """A libpq URL of `database`, with `schema` as its search_path when given."""
        url = f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"
        if schema is not None:
            url += "?options=" + quote(f"-csearch_path={schema}")
        return url

    def fresh_schema(self) -> str:
        """A new empty schema; its URL (one per test: far cheaper than a database)."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def fresh_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        name = name or "db_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name}")
        return self.url(database=name)

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the cluster's superuser; its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        """Stop the server at once (nothing in it is worth a checkpoint) and delete its files."""
        if self._started:
            with contextlib.suppress(PostgresUnavailable, OSError, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
