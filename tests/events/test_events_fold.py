"""replay, snapshots and fold discovery: a snapshot start gives the same state as a start from zero."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.examples import CLOSED, CREDITED, DEBITED, GENERIC, LEDGER, OPENED, Ledger, LedgerFold
from events.fold import load_fold, replay, save_snapshot
from events.memory import InMemoryEventStore
from events.model import NewEvent, RecordedEvent
from events.snapshots import SnapshotStore
from events.store import SqliteEventStore
from tests.events.helpers import ev


class CountingLedger(LedgerFold):
    """The ledger fold, counting how many events it was handed."""

    def __init__(self) -> None:
        self.evolved = 0

    def evolve(self, state: Ledger, event: RecordedEvent) -> Ledger:
        self.evolved += 1
        return super().evolve(state, event)


operation = st.tuples(st.sampled_from([OPENED, CREDITED, DEBITED, DEBITED, CLOSED]),
                      st.integers(0, 4), st.integers(1, 10_000))


def _fill(store: InMemoryEventStore | SqliteEventStore, ops: list[tuple[str, int, int]]) -> None:
    for kind, account, amount in ops:
        data: dict[str, Any] = {"owner": f"o{account}"} if kind == OPENED else {"amount": amount}
        store.append(f"account:{account}", [NewEvent(kind, data)])


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(operation, min_size=1, max_size=60), cut=st.floats(0, 1))
def test_replay_from_a_snapshot_equals_replay_from_zero(ops: list[tuple[str, int, int]], cut: float) -> None:
    store = InMemoryEventStore()
    _fill(store, ops)
    at = max(1, int(cut * store.head()))
    with SnapshotStore(":memory:") as snaps:
        early, seq = replay(store, LEDGER, until_seq=at)
        save_snapshot(store, LEDGER, snaps, early, seq)
        counting = CountingLedger()
        from_snapshot, seq1 = replay(store, counting, snapshots=snaps)
        from_zero, seq0 = replay(store, LEDGER)
    assert LEDGER.to_json(from_snapshot) == LEDGER.to_json(from_zero)
    assert seq1 == seq0 == store.head()
    assert counting.evolved == store.head() - at  # the snapshot really was the starting point


def test_a_snapshot_whose_hash_does_not_match_the_log_is_ignored() -> None:
    store = InMemoryEventStore()
    _fill(store, [(OPENED, 1, 0), (CREDITED, 1, 50), (DEBITED, 1, 20)])
    with SnapshotStore(":memory:") as snaps:
        bogus = LEDGER.to_json(LEDGER.initial())
        bogus["overdrafts"] = 999
        snaps.save(2, "f" * 64, LEDGER.name, json.dumps(bogus))
        state, seq = replay(store, LEDGER, snapshots=snaps)
    assert (state.overdrafts, state.accounts["1"].balance, seq) == (0, 30, 3)


def test_a_snapshot_past_the_requested_seq_is_not_used(tmp_path: Path) -> None:
    with SqliteEventStore(tmp_path / "log.db") as store, SnapshotStore(tmp_path / "snaps.db") as snaps:
        _fill(store, [(OPENED, 1, 0), (CREDITED, 1, 50), (CREDITED, 1, 20)])
        full, seq = replay(store, LEDGER)
        save_snapshot(store, LEDGER, snaps, full, seq)
        early, early_seq = replay(store, LEDGER, until_seq=2, snapshots=snaps)
    assert (early.accounts["1"].balance, early_seq) == (50, 2)
    assert (tmp_path / "snaps.db").exists()  # a file of its own, not a table in the log


def test_replay_until_a_time_stops_before_later_events() -> None:
    store = InMemoryEventStore()
    _fill(store, [(OPENED, 1, 0), (CREDITED, 1, 50)])
    cut = store.read_all()[-1].recorded_at
    _fill(store, [(CREDITED, 1, 20)])
    later = store.read_all()[-1]
    if later.recorded_at == cut:  # same microsecond: nothing to tell apart
        pytest.skip("clock too coarse")
    state, seq = replay(store, LEDGER, until_time=cut)
    assert (state.accounts["1"].balance, seq) == (50, 2)
    assert replay(store, LEDGER, until_time=cut - timedelta(days=1))[1] == 0


def test_replay_reports_progress_up_to_the_target() -> None:
    store = InMemoryEventStore()
    store.append("s:1", [ev("A") for _ in range(25)])
    calls: list[tuple[int, int]] = []
    replay(store, GENERIC, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (25, 25)


def test_the_ledger_folds_balances_overdrafts_and_counts() -> None:
    store = InMemoryEventStore()
    _fill(store, [(OPENED, 1, 0), (CREDITED, 1, 100), (DEBITED, 1, 150), (CREDITED, 2, 5), (CLOSED, 1, 0),
                  (CREDITED, 1, 7)])
    state, _ = replay(store, LEDGER)
    assert state.accounts["1"].balance == -50
    assert state.overdrafts == 1 and state.rejected == 2  # account 2 never opened; 1 was closed
    assert state.counts == {OPENED: 1, CREDITED: 3, DEBITED: 1, CLOSED: 1}
    assert LEDGER.to_json(LEDGER.from_json(LEDGER.to_json(state))) == LEDGER.to_json(state)


def test_the_generic_fold_keeps_counts_and_each_streams_last_event() -> None:
    store = InMemoryEventStore()
    store.append("trip:1", [ev("TripPlanned", km=10), ev("TripDecided", ok=True)])
    state, _ = replay(store, GENERIC)
    assert state["by_type"] == {"TripPlanned": 1, "TripDecided": 1}
    assert state["streams"]["trip:1"]["last_data"] == {"ok": True}


def test_load_fold_imports_a_dotted_path_and_refuses_non_folds() -> None:
    assert load_fold("events.examples:LEDGER") is LEDGER
    assert isinstance(load_fold("events.examples:LedgerFold"), LedgerFold)
    with pytest.raises(ImportError):
        load_fold("events.examples")
    with pytest.raises(ModuleNotFoundError):
        load_fold("no_such_module_here:FOLD")
    with pytest.raises(TypeError):
        load_fold("events.examples:OPENED")
