"""What is booked at a company's points, as a stream of changes another company can follow.

A participant turns its durable hold events into `Change`s (a window added to
or removed from a point, a point's status); a coordinator applies them to an
`OccupancyMirror` of that company and plans around what it shows, so most
refusals happen in its own planner instead of in a round of prepares. The
mirror may lag by a fraction of a second: a prepare stays the authority (a
point the mirror shows free can still be refused, and the refusal teaches the
coordinator at once). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from servers.bookings.windows import PointWindows

AVAILABLE = "AVAILABLE"


@dataclass(frozen=True, slots=True)
class Window:
    """One booked window on one point, in epoch seconds; `key` is "{trip}#{stop}".

    `priority` is when its trip asked (epoch seconds) while the hold is undecided — a trip that asked
    earlier may make it yield (the priority rule) — and 0 once it is reserved (or when not known).
    """

    key: str
    point_id: str
    start: float
    end: float
    priority: float = 0.0

    def to_json(self) -> list[Any]:
        base: list[Any] = [self.key, self.point_id, self.start, self.end]
        return [*base, self.priority] if self.priority else base

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> Window:
        return cls(str(data[0]), str(data[1]), float(data[2]), float(data[3]),
                   float(data[4]) if len(data) > 4 else 0.0)


@dataclass
class Changes:
    """What changed at a company up to log position `seq` (or, with `reset`, all of what is booked there)."""

    seq: int
    reset: bool = False
    added: list[Window] = field(default_factory=list)
    removed: list[Window] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)  # point -> its status now (AVAILABLE: back in service)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "reset": self.reset, "added": [w.to_json() for w in self.added],
                "removed": [w.to_json() for w in self.removed], "status": self.status}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Changes:
        return cls(seq=int(data["seq"]), reset=bool(data.get("reset")),
                   added=[Window.from_json(w) for w in data.get("added", [])],
                   removed=[Window.from_json(w) for w in data.get("removed", [])],
                   status={str(k): str(v) for k, v in (data.get("status") or {}).items()})


@dataclass
class OccupancyMirror:
    """A company's booked windows and out-of-service points, as last heard from it."""

    seq: int = 0
    windows: dict[str, PointWindows] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)  # only points not AVAILABLE
    yieldable: dict[str, float] = field(default_factory=dict)  # window key -> its priority, while undecided

    def apply(self, changes: Changes) -> None:
        """Bring the mirror up to `changes.seq`."""
        if changes.reset:
            self.windows.clear()
            self.status.clear()
            self.yieldable.clear()
        for w in changes.removed:
            windows = self.windows.get(w.point_id)
            if windows is not None:
                windows.remove(w.start, w.end, w.key)
            self.yieldable.pop(w.key, None)
        for w in changes.added:
            self.windows.setdefault(w.point_id, PointWindows()).add(w.start, w.end, w.key)
            if w.priority:
                self.yieldable[w.key] = w.priority
        for point, status in changes.status.items():
            if status == AVAILABLE:
                self.status.pop(point, None)
            else:
                self.status[point] = status
        self.seq = changes.seq

    def forget_before(self, moment: float) -> None:
        """Drop windows that ended before `moment` (the past cannot be booked; the mirror stays small)."""
        for point, windows in list(self.windows.items()):
            for _, _, key in (w for w in windows.items if w[1] <= moment):
                self.yieldable.pop(key, None)
            windows.items = [w for w in windows.items if w[1] > moment]
            if not windows.items:
                del self.windows[point]

    def free(self, point_id: str, start: float, end: float) -> bool:
        """In service and, as far as the mirror knows, not booked in [start, end)."""
        if point_id in self.status:
            return False
        windows = self.windows.get(point_id)
        return windows is None or not windows.any_overlapping(start, end)


def free_for(windows: PointWindows | None, yieldable: Mapping[str, float], start: float, end: float,
             asker: float | None, mine: str | None = None) -> bool:
    """Nothing booked in [start, end) — or, for a trip that asked at `asker`, only undecided holds of trips
    that asked after it (which the priority rule makes yield), or holds of trip `mine` itself (a re-booking
    may take its own trip's points)."""
    if windows is None or not windows.any_overlapping(start, end):
        return True
    if asker is None and mine is None:
        return False
    return all((asker is not None and yieldable.get(k, 0.0) > asker) or
               (mine is not None and k.partition("#")[0].partition("~")[0] == mine)
               for k in windows.overlapping(start, end))


def windows_of(holds: Iterable[Any], yieldable: Mapping[str, float]) -> list[Window]:
    """`Window`s of a participant's holds (`servers.bookings.state.Hold`), with the priority of undecided ones."""
    return [Window(h.key, h.point_id, h.span[0], h.span[1], yieldable.get(h.key, 0.0)) for h in holds]
