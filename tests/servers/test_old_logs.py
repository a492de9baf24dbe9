"""Logs written before events were typed (by the code of 2026-11-24) replay to the very same state."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from events.fold import replay
from events.memory import InMemoryEventStore
from events.model import NewEvent, StreamAppend
from federation.invariants import check
from servers.bookings import events as ev
from servers.bookings.state import FOLD

OLD = json.loads((Path(__file__).parent / "data" / "log_of_2026-11-24.json").read_text())
# What the state keeps since that log was written: the old fold's digest is of the rest. The state's own new
# parts, then the new fields of each trip and of each participation's holds.
NEW_PARTS = ("amendments", "figures")
NEW_FIELDS = {"trips": ("asked_at", "missed", "ended", "cancellation_reason", "who_canceled", "broken", "hold_ids",
                        "amendments", "notices", "charges", "noshow_fees"),
              "accounts": ("owed_cents",)}
NEW_HOLD_FIELDS = ("fault", "notice", "moved_from", "moved_reason", "started_at", "cdr")


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
    as_json = FOLD.to_json(state)
    for part in NEW_PARTS:
        as_json.pop(part)
    for part, fields in NEW_FIELDS.items():
        for item in as_json[part].values():
            for name in fields:
                item.pop(name)
    for participation in as_json["participations"].values():
        for hold in participation["holds"]:
            for name in NEW_HOLD_FIELDS:
                hold.pop(name)
    blob = json.dumps(as_json, sort_keys=True, separators=(",", ":"), default=str)
    assert hashlib.sha256(blob.encode()).hexdigest() == OLD["digests_by_the_old_fold"][company]


def test_old_trips_keep_when_their_driver_asked():
    state, _ = replay(old_store("voltpoint"), FOLD)
    assert state.trips and all(t.asked_at for t in state.trips.values())


def test_every_event_of_an_old_log_is_read_as_its_typed_class():
    types = set()
    for company in OLD["logs"]:
        for recorded in old_store(company).iter_all():
            typed = ev.parse(recorded)
            assert recorded.type == type(typed).NAME
            types.add(recorded.type)
    assert len(types) >= 24  # every type the old code wrote
    assert check({c: list(old_store(c).iter_all()) for c in OLD["logs"]}, converged=True) == []


def test_an_old_logs_finished_charges_count_in_the_company_figures_as_energy():
    for company in OLD["logs"]:
        finished = [e["data"] for e in OLD["logs"][company] if e["type"] == "ChargingFinished"]
        state, _ = replay(old_store(company), FOLD)
        revenue = state.figures["revenue_cents"]
        assert state.figures["sessions"] == len(finished)
        assert revenue["energy"] == revenue["total"] == sum(d.get("cost_cents", 0) for d in finished)
