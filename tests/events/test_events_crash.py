"""A writer killed with SIGKILL mid-loop leaves an intact log with no partial batch."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from events.store import SqliteEventStore

pytestmark = pytest.mark.integration  # a writer process, killed

WORKER = Path(__file__).with_name("eventlog_workers.py")


def _run_and_kill(log_path: Path, batches_before_kill: int) -> int:
    """Start the batch writer, SIGKILL it after it reports some commits; the last batch it reported."""
    child = subprocess.Popen([sys.executable, str(WORKER), str(log_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    last = 0
    for line in child.stdout:
        last = int(line)
        # A random point past the target: the kill lands in, before or after a commit.
        if last >= batches_before_kill and random.random() < 0.3:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.timeout(60)
def test_a_killed_writer_leaves_whole_batches_and_an_intact_chain(log_path: Path) -> None:
    reported = 0
    for _ in range(3):  # reopen the survivor's log each time: the chain must continue across crashes
        reported += _run_and_kill(log_path, batches_before_kill=15)
    with SqliteEventStore(log_path, create=False) as store:
        report = store.verify()
        per_stream = Counter(e.stream_id for e in store.iter_all())
        head = store.head()
    assert report.ok, report.reason
    assert all(count % 10 == 0 for count in per_stream.values()), per_stream
    assert head % 10 == 0
    assert head >= reported * 10  # every batch the writer saw committed is there (FULL durability)
