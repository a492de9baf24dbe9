"""What an event is: the one to append (`NewEvent`) and the one the log holds (`RecordedEvent`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

# Expected-version sentinel: append without checking the stream's version.
ANY_VERSION = -1
# Expected version of a stream that has no events yet.
NO_STREAM = 0


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: a past-tense type name and JSON-able data."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the log holds it.

    `seq` is the global, gapless, 1-based position; `version` is 1-based within
    `stream_id`; `hash` chains this event to the one at `seq - 1`.
    """

    seq: int
    stream_id: str
    version: int
    type: str
    recorded_at: datetime  # timezone-aware UTC
    data: dict[str, Any]
    hash: str


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """One stream's part of a multi-stream append: its events and the version it must be at."""

    stream_id: str
    events: tuple[NewEvent, ...]
    expected_version: int = ANY_VERSION


S = TypeVar("S")


class Fold(Protocol[S]):
    """How a state is rebuilt from events: `state = reduce(evolve, events, initial())`.

    `evolve` is deterministic and does no I/O. For speed it may update `state`
    in place and return it; callers never keep an old state after evolving it.
    `to_json`/`from_json` make a state storable (snapshots) and printable (CLI).
    """

    def initial(self) -> S: ...

    def evolve(self, state: S, event: RecordedEvent) -> S: ...

    def to_json(self, state: S) -> Any: ...

    def from_json(self, data: Any) -> S: ...
