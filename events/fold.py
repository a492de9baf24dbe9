"""Rebuilding state: `replay` folds a log (optionally from a snapshot), `load_fold` finds a fold by name."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from events.chain import canonical_json
from events.model import Fold, RecordedEvent
from events.snapshots import Snapshot, SnapshotStore
from events.store import EventStore

S = TypeVar("S")
PROGRESS_EVERY = 10_000


def fold_name(fold: Fold[Any]) -> str:
    """The fold's `name` attribute, else "module:Class" of its type; snapshots are keyed by it."""
    name = getattr(fold, "name", None)
    if isinstance(name, str):
        return name
    return f"{type(fold).__module__}:{type(fold).__qualname__}"


def snapshot_key(fold: Fold[Any]) -> str:
    """What snapshots are stored under: the fold's name, and its `version` attribute when it has one.

    A fold whose rules change (say, what its state forgets) bumps `version`, so that states saved by
    the old rules are never taken for a fold of the log under the new ones.
    """
    version = getattr(fold, "version", None)
    return fold_name(fold) if version is None else f"{fold_name(fold)}@{version}"


def load_fold(dotted: str) -> Fold[Any]:
    """Import the fold named "package.module:attribute" (a class is instantiated).

    Raises ImportError or AttributeError with the name in the message; TypeError
    if the object does not look like a `Fold`.
    """
    module_name, _, attr = dotted.partition(":")
    if not module_name or not attr:
        raise ImportError(f"{dotted!r} is not of the form package.module:attribute")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, type):
        obj = obj()
    if not all(callable(getattr(obj, m, None)) for m in ("initial", "evolve", "to_json", "from_json")):
        raise TypeError(f"{dotted} is not a fold (needs initial, evolve, to_json, from_json)")
    return obj  # type: ignore[no-any-return]


def replay(store: EventStore, fold: Fold[S], *, until_seq: int | None = None,
           until_time: datetime | None = None, snapshots: SnapshotStore | None = None,
           progress: Callable[[int, int], None] | None = None) -> tuple[S, int]:
    """Fold the log into a state; returns the state and the seq of the last event folded.

    Stops after `until_seq` and/or before the first event recorded after
    `until_time` (time order follows seq order in a log this package wrote).
    Starts from the newest usable snapshot in `snapshots`: one whose event
    still has the recorded hash. `progress(done_seq, target_seq)` is called
    now and then.
    """
    target = store.head() if until_seq is None else min(until_seq, store.head())
    state, seq = fold.initial(), 0
    snap = _usable_snapshot(store, fold, snapshots, target, until_time) if snapshots else None
    if snap is not None:
        state, seq = fold.from_json(json.loads(snap.state_json)), snap.seq
    evolve = fold.evolve
    next_report = seq + PROGRESS_EVERY
    for event in store.iter_all(after=seq, until_seq=target):
        if until_time is not None and event.recorded_at > until_time:
            break
        state = evolve(state, event)
        seq = event.seq
        if progress is not None and seq >= next_report:
            progress(seq, target)
            next_report = seq + PROGRESS_EVERY
    if progress is not None:
        progress(seq, target)
    return state, seq


def save_snapshot(store: EventStore, fold: Fold[S], snapshots: SnapshotStore, state: S, seq: int) -> Snapshot:
    """Save `state` (the fold of the log up to `seq`) with the hash of event `seq`."""
    event = event_at(store, seq)
    head_hash = event.hash if event is not None else "0" * 64
    return snapshots.save(seq, head_hash, snapshot_key(fold), canonical_json(fold.to_json(state)))


def _usable_snapshot(store: EventStore, fold: Fold[Any], snapshots: SnapshotStore, target: int,
                     until_time: datetime | None) -> Snapshot | None:
    for snap in snapshots.candidates(snapshot_key(fold), target):
        event = event_at(store, snap.seq)
        if event is None or event.hash != snap.head_hash:
            continue  # the log was rewritten or is another log: this state is not its fold
        if until_time is not None and event.recorded_at > until_time:
            continue
        return snap
    return None


def event_at(store: EventStore, seq: int) -> RecordedEvent | None:
    """The event at `seq`, or None when the log has none there."""
    if seq <= 0:
        return None
    events = store.read_all(after=seq - 1, limit=1)
    return events[0] if events and events[0].seq == seq else None
