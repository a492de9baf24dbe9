"""Code that runs in child processes of the event-log tests (spawned, so it must be importable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from events.errors import ConcurrencyError  # noqa: E402
from events.model import NO_STREAM, NewEvent  # noqa: E402
from events.store import SqliteEventStore  # noqa: E402


def race(path: str, name: str, rounds: int, barrier: Any, results: Any) -> None:
    """Each round, wait for the rival, then try to create stream `race:<round>`; report won/lost."""
    with SqliteEventStore(path) as store:
        for r in range(rounds):
            barrier.wait()
            try:
                store.append(f"race:{r}", [NewEvent("Claimed", {"by": name})], NO_STREAM)
                results.put((r, name, "won"))
            except ConcurrencyError:
                results.put((r, name, "lost"))


def append_batches_forever(path: str) -> None:
    """Append 10-event batches round-robin to 5 streams, printing each committed batch number."""
    with SqliteEventStore(path, synchronous="FULL") as store:
        n = 0
        while True:
            stream = f"batch:{n % 5}"
            batch = [NewEvent("Ticked", {"batch": n, "i": i, "pad": "x" * 200}) for i in range(10)]
            store.append(stream, batch)
            n += 1
            print(n, flush=True)


if __name__ == "__main__":
    append_batches_forever(sys.argv[1])
