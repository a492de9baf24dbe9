"""Event-log benchmark, run by hand: `.venv/bin/python bench/eventlog.py [--events N] [--pg-url URL | --no-pg]`.

Measures, on the real file system (a temp dir beside the repo's `run/`, not tmpfs), for
the SQLite store and the PostgreSQL store side by side (same machine, same run):
durable (synchronous=FULL) appends through the store against a bare INSERT+COMMIT
loop of the same driver, the single writer's ceiling with group commit (`write_rows`
of pre-built groups, the server engine's path), replay of a large log through
`LedgerFold`, and a cold start from a snapshot. Medians over several repeats.

PostgreSQL: a throwaway cluster of Debian's postgresql with its default durability
(fsync on, synchronous_commit on), its data in a temp dir on the same disk, on a loopback
port (`tests/postgres.py`), unless `--pg-url` names a server; each measure gets a new schema.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from events.chain import GENESIS_HASH, Row, build_rows  # noqa: E402
from events.examples import CREDITED, DEBITED, LEDGER, OPENED  # noqa: E402
from events.fold import replay, save_snapshot  # noqa: E402
from events.location import open_store, parse_location  # noqa: E402
from events.model import NewEvent, StreamAppend  # noqa: E402
from events.snapshots import SnapshotStore  # noqa: E402
from events.store import SqliteEventStore  # noqa: E402

ACCOUNTS = 1_000
GROUPS = (1, 10, 100, 1000)  # group-commit sizes: events per write_rows
DATA = {"amount": 1234, "ref": "trip:000123", "note": "recarga em Teresina"}


def store_appends(location: str, appends: int, batch: int) -> float:
    with open_store(location, synchronous="FULL") as store:
        store.append("warm:1", [NewEvent(CREDITED, DATA)])
        events = [NewEvent(CREDITED, DATA)] * batch
        start = time.perf_counter()
        for i in range(appends):
            store.append(f"account:{i % ACCOUNTS}", events)
        return time.perf_counter() - start


def bare_appends(location: str, appends: int, batch: int) -> float:
    """The baseline: the same table and durability, plain INSERT + COMMIT, no version check, no hashing."""
    if parse_location(location).kind == "postgresql":
        return bare_pg_appends(location, appends, batch)
    conn = sqlite3.connect(location, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, stream_id TEXT, version INTEGER, type TEXT,"
                 " recorded_at TEXT, data TEXT, prev_hash TEXT, hash TEXT, UNIQUE(stream_id, version))")
    conn.execute("CREATE INDEX events_type ON events(type)")
    conn.execute("CREATE INDEX events_time ON events(recorded_at)")
    data, h, t = json.dumps(DATA), "0" * 64, "2026-01-01T00:00:00.000000+00:00"
    seq = 0
    start = time.perf_counter()
    for i in range(appends):
        rows = []
        for _ in range(batch):
            seq += 1
            rows.append((seq, f"account:{i % ACCOUNTS}", seq, CREDITED, t, data, h, h))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def bare_pg_appends(url: str, appends: int, batch: int) -> float:
    """The PostgreSQL baseline: the store's table and its way of writing (COPY), then COMMIT."""
    import psycopg

    from events.postgres import _COPY

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE events (seq BIGINT PRIMARY KEY, stream_id TEXT COLLATE \"C\" NOT NULL,"
                     " version INTEGER NOT NULL, type TEXT COLLATE \"C\" NOT NULL, recorded_at TEXT COLLATE \"C\""
                     " NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,"
                     " UNIQUE (stream_id, version))")
        conn.execute("CREATE INDEX ON events (type)")
        conn.execute("CREATE INDEX ON events (recorded_at)")
        conn.commit()
        data, h, t = json.dumps(DATA), "0" * 64, "2026-01-01T00:00:00.000000+00:00"
        seq = 0
        start = time.perf_counter()
        for i in range(appends):
            rows = []
            for _ in range(batch):
                seq += 1
                rows.append((seq, f"account:{i % ACCOUNTS}", seq, CREDITED, t, data, h, h))
            with conn.cursor() as cur, cur.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
        return time.perf_counter() - start


def prebuilt_groups(groups: int, size: int) -> list[list[Row]]:
    """`groups` groups of `size` rows chained from an empty log, built the engine's way (before timing)."""
    versions: dict[str, int] = {}
    seq, prev, last = 0, GENESIS_HASH, ""
    out = []
    for g in range(groups):
        appends = [StreamAppend(f"account:{(g * size + i) % ACCOUNTS}", (NewEvent(CREDITED, DATA),))
                   for i in range(size)]
        rows = build_rows(appends, seq, prev, last, lambda s: versions.get(s, 0), datetime.now(UTC))
        for row in rows:
            versions[row.stream_id] = row.version
        seq, prev, last = rows[-1].seq, rows[-1].hash, rows[-1].recorded_at
        out.append(rows)
    return out


def group_commits(location: str, groups: list[list[Row]]) -> float:
    """One writer calling `write_rows` back to back (the engine's writer thread with a full queue)."""
    with open_store(location, synchronous="FULL") as store:
        start = time.perf_counter()
        for rows in groups:
            store.write_rows(rows)
        return time.perf_counter() - start


def build_log(location: str, n: int) -> float:
    """A ledger of `n` events over ACCOUNTS accounts, written fast (NORMAL, 1,000 per transaction)."""
    start = time.perf_counter()
    with open_store(location, synchronous="NORMAL") as store:
        store.set_meta("fold", LEDGER.name)
        store.append_streams([StreamAppend(f"account:{a}", (NewEvent(OPENED, {"owner": f"o{a}"}),))
                              for a in range(ACCOUNTS)])
        done = ACCOUNTS
        while done < n:
            size = min(1_000, n - done)
            store.append_streams([StreamAppend(f"account:{(done + i) % ACCOUNTS}",
                                               (NewEvent(CREDITED if i % 3 else DEBITED, DATA),))
                                  for i in range(size)])
            done += size
    return time.perf_counter() - start


def child(mode: str, log: str, snaps: str) -> None:
    """Run in a fresh process so peak RSS and start-up time belong to this work alone."""
    start = time.perf_counter()
    with open_store(log, create=False) as store:
        if mode == "replay":
            state, seq = replay(store, LEDGER)
        else:
            with SnapshotStore(snaps) as snapshots:
                state, seq = replay(store, LEDGER, snapshots=snapshots)
    elapsed = time.perf_counter() - start
    assert seq == store_head(log) and len(state.accounts) == ACCOUNTS
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "seq": seq, "maxrss_mib": maxrss_kib / 1024}))


def store_head(log: str) -> int:
    with open_store(log, create=False) as store:
        return store.head()


def run_child(mode: str, log: str, snaps: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(log), str(snaps)],
                         check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


class Targets:
    """Fresh empty logs of each kind: SQLite files in `tmp`, PostgreSQL schemas in one database."""

    def __init__(self, tmp: Path, pg_url: str | None) -> None:
        self.tmp = tmp
        self.pg_url = pg_url
        self.made = 0

    def kinds(self) -> list[str]:
        return ["sqlite"] + (["postgresql"] if self.pg_url else [])

    def fresh(self, kind: str) -> str:
        self.made += 1
        if kind == "sqlite":
            path = self.tmp / f"log{self.made}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return str(path)
        import psycopg

        assert self.pg_url is not None
        schema = f"bench_{os.getpid()}_{self.made}"
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}".encode())
        return f"{self.pg_url}{'&' if '?' in self.pg_url else '?'}options=" + quote(f"-csearch_path={schema}")


def interleaved(kinds: list[str], sample: Callable[[str], float], repeats: int) -> dict[str, float]:
    """Median of `sample(kind)` per kind, the kinds taking turns, so a busy moment of a shared machine
    falls on both stores alike rather than on whichever ran then."""
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(repeats):
        for kind in kinds:
            samples[kind].append(sample(kind))
    return {k: statistics.median(v) for k, v in samples.items()}


def measure(targets: Targets, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Every figure of every kind of store, printed as it comes."""
    kinds, r = targets.kinds(), args.repeats
    got: dict[str, dict[str, float]] = {k: {} for k in kinds}

    def keep(key: str, values: dict[str, float]) -> None:
        for kind, value in values.items():
            got[kind][key] = value

    singles, batches = 300, 100
    keep("single", interleaved(kinds, lambda k: singles / store_appends(targets.fresh(k), singles, 1), r))
    keep("single_bare", interleaved(kinds, lambda k: singles / bare_appends(targets.fresh(k), singles, 1), r))
    keep("batch", interleaved(kinds, lambda k: 100 * batches / store_appends(targets.fresh(k), batches, 100), r))
    keep("batch_bare", interleaved(kinds, lambda k: 100 * batches / bare_appends(targets.fresh(k), batches, 100), r))
    for kind in kinds:
        g = got[kind]
        print(f"{kind}: single-event appends, FULL: store {g['single']:,.0f}/s, bare {g['single_bare']:,.0f}/s,"
              f" ratio {g['single'] / g['single_bare']:.0%}; 100-event batches: store {g['batch']:,.0f} events/s,"
              f" bare {g['batch_bare']:,.0f} events/s, ratio {g['batch'] / g['batch_bare']:.0%}", flush=True)
    for size in GROUPS:
        groups = prebuilt_groups(max(20, min(1000, 20_000 // size)), size)
        keep(f"group{size}", interleaved(kinds, group_sampler(targets, groups), r))
        print("one writer, write_rows of " + f"{size}-event groups, FULL: " + ", ".join(
            f"{k} {got[k][f'group{size}']:,.0f} events/s ({got[k][f'group{size}'] / size:,.0f} commits/s)"
            for k in kinds), flush=True)

    logs = {}
    for kind in kinds:
        logs[kind] = log = targets.fresh(kind)
        built = build_log(log, args.events)
        print(f"{kind}: built a {args.events:,}-event log in {built:.1f} s ({args.events / built:,.0f} events/s,"
              f" NORMAL, 1,000 per transaction), {log_mib(log):,.0f} MiB", flush=True)
    snaps = {kind: targets.tmp / f"snapshots-{kind}.db" for kind in kinds}
    rss: dict[str, float] = {k: 0.0 for k in kinds}

    def replay_rate(kind: str) -> float:
        result = run_child("replay", logs[kind], snaps[kind])
        rss[kind] = max(rss[kind], result["maxrss_mib"])
        return float(args.events / result["seconds"])

    keep("replay", interleaved(kinds, replay_rate, r))
    for kind in kinds:
        print(f"{kind}: replay through LedgerFold: {got[kind]['replay']:,.0f} events/s"
              f" ({args.events / got[kind]['replay']:.2f} s), peak RSS {rss[kind]:.0f} MiB", flush=True)
        with open_store(logs[kind], create=False) as store, SnapshotStore(snaps[kind]) as snapshots:
            state, seq = replay(store, LEDGER)
            save_snapshot(store, LEDGER, snapshots, state, seq)
    keep("cold", interleaved(kinds, lambda k: run_child("snapshot", logs[k], snaps[k])["seconds"], r))
    for kind in kinds:
        print(f"{kind}: cold start from a snapshot at seq {args.events:,}: {got[kind]['cold']:.3f} s (open log +"
              f" snapshot, check its hash, load state; not counting interpreter start-up)", flush=True)
    return got


def group_sampler(targets: Targets, groups: list[list[Row]]) -> Callable[[str], float]:
    """Events/s of one writer committing `groups` into a fresh log of a kind."""
    n = sum(len(group) for group in groups)
    return lambda kind: n / group_commits(targets.fresh(kind), groups)


def comparison(sq: dict[str, float], pg: dict[str, float], events: int) -> None:
    """The two stores side by side, as a Markdown table."""
    print("\n| measure | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |\n|---|---|---|---|")
    rows = [("single-event appends (events/s)", "single"), ("100-event batches (events/s)", "batch")]
    rows += [(f"one writer, groups of {n} (events/s)", f"group{n}") for n in GROUPS]
    rows += [(f"replay of {events:,} events (events/s)", "replay")]
    for label, key in rows:
        print(f"| {label} | {sq[key]:,.0f} | {pg[key]:,.0f} | {pg[key] / sq[key]:.2f} |")
    print(f"| cold start from a snapshot (s) | {sq['cold']:.3f} | {pg['cold']:.3f} |"
          f" {pg['cold'] / sq['cold']:.2f} |")


def log_mib(location: str) -> float:
    where = parse_location(location)
    if where.path is not None:
        return sum(p.stat().st_size for p in (where.path, Path(f"{where.path}-wal")) if p.exists()) / 2**20
    with open_store(location, create=False) as store:
        assert not isinstance(store, SqliteEventStore)
        return float(store.query("SELECT pg_total_relation_size('events') AS n")[0]["n"]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the replay log")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", help="a PostgreSQL database to measure in (default: a throwaway cluster)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    (ROOT / "run").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-eventlog-", dir=ROOT / "run"))
    cluster = None
    try:
        pg_url = args.pg_url
        if pg_url is None and not args.no_pg:
            from tests.postgres import PostgresCluster

            cluster = PostgresCluster(durable=True).start()  # fsync and synchronous_commit on: the defaults
            pg_url = cluster.url()
        pg_version = ""
        if pg_url:
            import psycopg

            with psycopg.connect(pg_url) as conn:
                major, minor = divmod(conn.info.server_version, 10000)
                pg_version = f", PostgreSQL {major}.{minor} (psycopg {psycopg.__version__})"
        print(f"# {platform.machine()}, {_nproc()} cpus, Python {platform.python_version()},"
              f" SQLite {sqlite3.sqlite_version}{pg_version}, {time.strftime('%Y-%m-%d %H:%M')},"
              f" load average {os.getloadavg()[0]:.1f}, dir {tmp}", flush=True)
        results = measure(Targets(tmp, pg_url), args)
        if "postgresql" in results:
            comparison(results["sqlite"], results["postgresql"], args.events)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _nproc() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
