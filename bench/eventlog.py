"""Event-log benchmark, run by hand: `.venv/bin/python bench/eventlog.py [--events N]`.

Measures, on the real file system (a temp dir beside the repo's `run/`, not tmpfs):
durable (synchronous=FULL) appends through `SqliteEventStore` against a bare
sqlite3 INSERT+COMMIT loop, replay of a large log through `LedgerFold`, and a
cold start from a snapshot. Medians over several repeats.
"""

from __future__ import annotations

import argparse
import json
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from events.examples import CREDITED, DEBITED, LEDGER, OPENED  # noqa: E402
from events.fold import replay, save_snapshot  # noqa: E402
from events.model import NewEvent, StreamAppend  # noqa: E402
from events.snapshots import SnapshotStore  # noqa: E402
from events.store import SqliteEventStore  # noqa: E402

ACCOUNTS = 1_000
DATA = {"amount": 1234, "ref": "trip:000123", "note": "recarga em Teresina"}


def median_rate(run: Callable[[], float], units: int, repeats: int) -> float:
    """Median of `units / seconds` over `repeats` runs of `run` (which returns its seconds)."""
    return statistics.median(units / run() for _ in range(repeats))


def store_appends(path: Path, appends: int, batch: int) -> float:
    with SqliteEventStore(path, synchronous="FULL") as store:
        store.append("warm:1", [NewEvent(CREDITED, DATA)])
        events = [NewEvent(CREDITED, DATA)] * batch
        start = time.perf_counter()
        for i in range(appends):
            store.append(f"account:{i % ACCOUNTS}", events)
        return time.perf_counter() - start


def bare_appends(path: Path, appends: int, batch: int) -> float:
    """The baseline: the same table and pragmas, plain INSERT + COMMIT, no version check, no hashing."""
    conn = sqlite3.connect(path, isolation_level=None)
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


def fresh(tmp: Path, name: str) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp / name}{suffix}").unlink(missing_ok=True)
    return tmp / name


def build_log(path: Path, n: int) -> float:
    """A ledger of `n` events over ACCOUNTS accounts, written fast (NORMAL, 1,000 per transaction)."""
    start = time.perf_counter()
    with SqliteEventStore(path, synchronous="NORMAL") as store:
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
    with SqliteEventStore(log, create=False) as store:
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
    with SqliteEventStore(log, create=False) as store:
        return store.head()


def run_child(mode: str, log: Path, snaps: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(log), str(snaps)],
                         check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the replay log")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    (ROOT / "run").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-eventlog-", dir=ROOT / "run"))
    r = args.repeats
    try:
        print(f"# {platform.machine()}, {_nproc()} cpus, Python {platform.python_version()},"
              f" SQLite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d')}, dir {tmp}")
        singles = 300
        s1 = median_rate(lambda: store_appends(fresh(tmp, "s1.db"), singles, 1), singles, r)
        b1 = median_rate(lambda: bare_appends(fresh(tmp, "b1.db"), singles, 1), singles, r)
        print(f"single-event appends, FULL: store {s1:,.0f}/s, bare {b1:,.0f}/s, ratio {s1 / b1:.0%}")
        batches = 100
        s100 = median_rate(lambda: store_appends(fresh(tmp, "s100.db"), batches, 100), batches, r)
        b100 = median_rate(lambda: bare_appends(fresh(tmp, "b100.db"), batches, 100), batches, r)
        print(f"100-event batches, FULL: store {s100:,.0f}/s ({s100 * 100:,.0f} events/s),"
              f" bare {b100:,.0f}/s, ratio {s100 / b100:.0%}")

        log, snaps = tmp / "big.db", tmp / "big.snapshots.db"
        built = build_log(log, args.events)
        size = log.stat().st_size + (Path(f"{log}-wal").stat().st_size if Path(f"{log}-wal").exists() else 0)
        print(f"built a {args.events:,}-event log in {built:.1f} s ({args.events / built:,.0f} events/s,"
              f" NORMAL, 1,000 per transaction), {size / 2**20:,.0f} MiB")
        runs = [run_child("replay", log, snaps) for _ in range(r)]
        secs = statistics.median(x["seconds"] for x in runs)
        rss = max(x["maxrss_mib"] for x in runs)
        print(f"replay through LedgerFold: {args.events / secs:,.0f} events/s ({secs:.2f} s), peak RSS {rss:.0f} MiB")

        with SqliteEventStore(log, create=False) as store, SnapshotStore(snaps) as snapshots:
            state, seq = replay(store, LEDGER)
            save_snapshot(store, LEDGER, snapshots, state, seq)
        cold = [run_child("snapshot", log, snaps) for _ in range(r)]
        print(f"cold start from a snapshot at seq {seq:,}: {statistics.median(x['seconds'] for x in cold):.3f} s"
              f" (open log + snapshot, check its hash, load state; not counting interpreter start-up)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _nproc() -> int:
    import os
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
