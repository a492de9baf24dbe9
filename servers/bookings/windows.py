"""The time windows booked on one charging point, kept sorted so "what overlaps [start, end)?" is a bisection.

A busy point collects hundreds of future reservations; scanning them all for
every prepare made the booking cost grow with the log. Windows are kept
sorted by start, with the longest one remembered, so the windows that can
overlap [start, end) are exactly those starting in (start - longest, end):
found by two bisections and a short walk, whatever else the point holds.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

Key = str  # what a window belongs to: "{trip}#{stop}"


@dataclass
class PointWindows:
    """Windows on one point: (start, end, key), epoch seconds, sorted by start then end then key."""

    items: list[tuple[float, float, Key]] = field(default_factory=list)
    longest: float = 0.0  # the longest window ever added (never shrinks: a safe bound for the walk)

    def add(self, start: float, end: float, key: Key) -> None:
        """Add a window (adding the same window twice keeps one)."""
        item = (start, end, key)
        at = bisect.bisect_left(self.items, item)
        if at < len(self.items) and self.items[at] == item:
            return
        self.items.insert(at, item)
        self.longest = max(self.longest, end - start)

    def remove(self, start: float, end: float, key: Key) -> None:
        """Remove a window, if present."""
        item = (start, end, key)
        at = bisect.bisect_left(self.items, item)
        if at < len(self.items) and self.items[at] == item:
            del self.items[at]

    def overlapping(self, start: float, end: float) -> list[Key]:
        """Keys of the windows that overlap the half-open [start, end)."""
        hi = bisect.bisect_left(self.items, (end,))
        lo = bisect.bisect_right(self.items, (start - self.longest,))
        return [k for s, e, k in self.items[lo:hi] if s < end and start < e]

    def any_overlapping(self, start: float, end: float) -> bool:
        """Whether any window overlaps [start, end)."""
        hi = bisect.bisect_left(self.items, (end,))
        lo = bisect.bisect_right(self.items, (start - self.longest,))
        return any(start < e for s, e, _ in self.items[lo:hi])

    def __len__(self) -> int:
        return len(self.items)
