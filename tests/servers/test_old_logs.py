"""Logs written before events were typed (by the code of 2026-11-24) replay to the very same state."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from events.fold import replay
from events.memory import InMemoryEventStore
from events.model import NewEvent, StreamAppend
from servers.domain import events as ev
from servers.domain.state import FOLD
from servers.invariants import check
from servers.service import views

OLD = json.loads((Path(__file__).parent / "data" / "log_of_2026-11-24.json").read_text())


def old_store(company: str) -> InMemoryEventStore:
    """One company's old log, appended event by event at the times it was recorded then."""
    events = OLD["logs"][company]
    times = iter([datetime.fromisoformat(e["recorded_at"]) for e in events])
    store = InMemoryEventStore(clock=lambda: next(times))
    for e in events:
        store.append_streams([StreamAppend(e["stream_id"], (NewEvent(e["type"], e["data"]),))])
    return store


@pytest.mark.parametrize("company", sorted(OLD["logs"]))
def test_an_old_log_replays_to_the_state_the_old_fold_built(company):
    state, _ = replay(old_store(company), FOLD)
    assert views.digest(state) == OLD["digests_by_the_old_fold"][company]


def test_every_event_of_an_old_log_is_read_as_its_typed_class():
    types = set()
    for company in OLD["logs"]:
        for recorded in old_store(company).iter_all():
            typed = ev.parse(recorded)
            assert recorded.type == type(typed).NAME
            types.add(recorded.type)
    assert len(types) >= 24  # every type the old code wrote
    assert check({c: list(old_store(c).iter_all()) for c in OLD["logs"]}, converged=True) == []
