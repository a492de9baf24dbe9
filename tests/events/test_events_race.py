"""Two writers racing for one stream version: exactly one wins, the other gets ConcurrencyError."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

import pytest

from events.errors import ConcurrencyError
from events.memory import InMemoryEventStore
from events.model import NO_STREAM
from events.postgres import PostgresEventStore
from events.store import EventStore, SqliteEventStore
from tests.events.eventlog_workers import race
from tests.events.helpers import ev
from tests.postgres import PostgresCluster

ROUNDS = 20


def _race_threads(stores: list[EventStore]) -> list[Counter[str]]:
    barrier = threading.Barrier(len(stores))
    outcomes: list[Counter[str]] = [Counter() for _ in range(ROUNDS)]
    lock = threading.Lock()

    def writer(store: EventStore, name: str) -> None:
        for r in range(ROUNDS):
            barrier.wait()
            try:
                store.append(f"race:{r}", [ev("Claimed", by=name)], NO_STREAM)
                result = "won"
            except ConcurrencyError:
                result = "lost"
            with lock:
                outcomes[r][result] += 1

    threads = [threading.Thread(target=writer, args=(s, f"w{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_threads_sharing_one_store_never_both_win(log_path: Path) -> None:
    with SqliteEventStore(log_path) as store:
        outcomes = _race_threads([store, store])
        assert all(o == Counter(won=1, lost=1) for o in outcomes)
        assert store.head() == ROUNDS and store.verify().ok


def test_threads_with_their_own_connections_never_both_win(log_path: Path) -> None:
    with SqliteEventStore(log_path) as one, SqliteEventStore(log_path) as two:
        outcomes = _race_threads([one, two])
        assert all(o == Counter(won=1, lost=1) for o in outcomes)
        assert one.head() == ROUNDS and one.verify().ok


def test_writers_on_one_postgresql_database_never_both_win(postgres: PostgresCluster) -> None:
    url = postgres.fresh_schema()
    with PostgresEventStore(url) as one, PostgresEventStore(url) as two:
        outcomes = _race_threads([one, two])
        assert all(o == Counter(won=1, lost=1) for o in outcomes)
        assert one.head() == ROUNDS and two.verify().ok


def test_threads_on_the_in_memory_store_never_both_win() -> None:
    store = InMemoryEventStore()
    outcomes = _race_threads([store, store])
    assert all(o == Counter(won=1, lost=1) for o in outcomes)
    assert store.head() == ROUNDS


@pytest.mark.timeout(60)
@pytest.mark.integration
def test_separate_processes_never_both_win(log_path: Path) -> None:
    SqliteEventStore(log_path).close()  # create the file before the rivals open it
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=race, args=(str(log_path), f"p{i}", ROUNDS, barrier, results))
             for i in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=30) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0, 0]
    by_round = Counter((r, result) for r, _name, result in outcomes)
    assert all(by_round[(r, "won")] == 1 and by_round[(r, "lost")] == 1 for r in range(ROUNDS))
    with SqliteEventStore(log_path) as store:
        assert store.head() == ROUNDS and store.verify().ok
        winners = {e.data["by"] for e in store.read_all()}
    assert winners <= {"p0", "p1"}
