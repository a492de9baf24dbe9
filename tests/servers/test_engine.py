"""The engine's group commit: who starts a write, what shares it, and what waits (servers/service/engine.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from events.chain import Row
from events.errors import LogUnavailable
from events.model import NewEvent, StreamAppend
from events.store import SqliteEventStore
from servers.service import engine as engine_module
from servers.service.engine import Engine, LogUnreachable


class CountingStore(SqliteEventStore):
    """A real SQLite log that remembers each transaction's streams, and can hold a write until released."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def write_rows(self, rows: Sequence[Row]) -> None:
        self.gate.wait(timeout=10)
        super().write_rows(rows)
        self.writes.append([r.stream_id for r in rows])


def note(stream: str) -> StreamAppend:
    return StreamAppend(stream, (NewEvent("Noted", {"n": 1}),))


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "log.db")


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "not within the timeout"
        await asyncio.sleep(0.005)


def test_a_waiter_starts_the_write_and_what_lingered_shares_its_transaction(store: CountingStore,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LINGER_S", 3600.0)  # only a waiter can start a write here

    async def run() -> None:
        engine = Engine(store)
        engine.execute(lambda s: ([note("trip:a")], None))  # nobody waits for it
        await asyncio.sleep(0.05)
        assert store.writes == []  # it lingers
        engine.execute(lambda s: ([note("trip:b")], None))
        await asyncio.wait_for(engine.durable(), timeout=10)
        assert store.writes == [["trip:a", "trip:b"]]  # one transaction, one fsync
        engine.close()

    asyncio.run(run())


def test_rows_nobody_waits_for_are_written_after_the_linger(store: CountingStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LINGER_S", 0.01)
    heard: list[str] = []

    async def run() -> None:
        engine = Engine(store)
        engine.subscribe(lambda events: heard.extend(e.stream_id for e in events))
        engine.execute(lambda s: ([note("ack:x")], None))
        assert heard == []  # listeners hear only what is durable
        await until(lambda: heard == ["ack:x"])
        assert store.writes == [["ack:x"]]
        engine.close()

    asyncio.run(run())


def test_rows_staged_during_a_write_are_written_next_when_somebody_waits(store: CountingStore,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LINGER_S", 3600.0)

    async def run() -> None:
        engine = Engine(store)
        store.gate.clear()  # the first write stays in flight
        engine.execute(lambda s: ([note("trip:1")], None))
        first = asyncio.ensure_future(engine.durable())
        await asyncio.sleep(0.05)
        engine.execute(lambda s: ([note("trip:2")], None))
        engine.execute(lambda s: ([note("trip:3")], None))
        second = asyncio.ensure_future(engine.durable())
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()
        store.gate.set()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
        assert store.writes == [["trip:1"], ["trip:2", "trip:3"]]
        engine.close()

    asyncio.run(run())



class ReadCounting(CountingStore):
    """Counts the reads of one stream's events or version."""

    reads = 0

    def read_stream(self, stream_id: str, after_version: int = 0):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read_stream(stream_id, after_version)

    def stream_version(self, stream_id: str) -> int:
        self.reads += 1
        return super().stream_version(stream_id)


def test_a_stream_the_log_never_had_costs_no_read_and_one_it_had_is_read(tmp_path: Path) -> None:
    before = ReadCounting(tmp_path / "log.db")
    before.append_streams([note("trip:old")])  # written before this engine started (and forgotten by the state)
    store = ReadCounting(tmp_path / "log.db")
    engine = Engine(store, background=False)
    assert engine.first("answer:v1/r-new") is None and engine.first("hold:t-new") is None
    engine.execute(lambda s: ([note("hold:t-new")], None))
    assert store.reads == 0  # none of these needed the log
    old = engine.first("trip:old")
    assert old is not None and old.type == "Noted" and store.reads == 1


class Unreachable(CountingStore):
    """A log whose database goes away: writes and reads fail as LogUnavailable while `down`."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise LogUnavailable("postgresql://db/log", "connection refused")

    def write_rows(self, rows: Sequence[Row]) -> None:
        self._check()
        super().write_rows(rows)

    def last_row(self):  # type: ignore[no-untyped-def]  # what a reload reads first
        self._check()
        return super().last_row()


def test_a_log_out_of_reach_fails_the_waiters_and_is_read_again_before_the_next_decision(tmp_path: Path) -> None:
    store = Unreachable(tmp_path / "log.db")

    async def run() -> None:
        engine = Engine(store)
        engine.execute(lambda s: ([note("trip:kept")], None))
        await engine.durable()
        store.down = True
        engine.execute(lambda s: ([note("trip:lost")], None))
        with pytest.raises(LogUnreachable):  # told, not left waiting: it cannot even be read back
            await asyncio.wait_for(engine.durable(), timeout=10)
        assert engine.stale
        with pytest.raises(LogUnreachable):
            engine.execute(lambda s: ([note("trip:refused")], None))
        store.down = False
        engine.execute(lambda s: ([note("trip:after")], None))  # read back first: the lost append is gone
        await engine.durable()
        assert not engine.stale
        assert [e.stream_id for e in store.read_all()] == ["trip:kept", "trip:after"]
        engine.close()

    asyncio.run(run())
