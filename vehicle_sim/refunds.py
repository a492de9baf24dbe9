"""What cancelling a trip gives back, by the documented policy (docs/booking.md), for a driver to see first.

All of the cost up to 1 h before the first stop's window; half of it (whole centavos, rounded down) less than
1 h before; nothing once the first window has begun — the server then refuses with TRIP_STARTED. The server
decides; this is the quote a client shows before asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FULL_REFUND_BEFORE = timedelta(hours=1)


@dataclass(frozen=True)
class Quote:
    """The refund a cancel would give now, and the sentence that says why."""

    amount: float | None  # None: it can no longer be cancelled
    why: str


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def quote(trip: dict[str, Any], now: datetime) -> Quote:
    """The refund for cancelling `trip` (as `trips` answers it) at `now`."""
    cents = round(float(trip.get("cost", 0.0)) * 100)
    stops = trip.get("stops") or trip.get("plan", {}).get("stops") or []
    first = _time(stops[0].get("window_start")) if stops else None
    if first is None:
        return Quote(cents / 100, "all of it: the trip has no charging stop")
    left = first - now
    if left >= FULL_REFUND_BEFORE:
        return Quote(cents / 100, "all of it: more than 1 h before the first stop")
    if left > timedelta(0):
        return Quote((cents // 2) / 100, "half of it: less than 1 h before the first stop")
    return Quote(None, "the first stop's window has begun: the trip can no longer be cancelled")


def trip_label(trip: dict[str, Any], city_name: Any) -> str:
    """'Salvador → Recife, leaving 02/12 14:45 UTC' — how a trip picker names a trip (not by its id)."""
    plan = trip.get("plan", {})
    leave = _time(plan.get("departure"))
    when = leave.astimezone(UTC).strftime("%d/%m %H:%M") if leave else "?"
    return f"{city_name(plan.get('origin', '?'))} → {city_name(plan.get('destination', '?'))}, leaving {when} UTC"
