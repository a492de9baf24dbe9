"""What cancelling a trip gives back, by the documented policy (docs/booking.md, "Money"), for a driver to see first.

Stop by stop: a stop cancelled by its company's cancel-until moment (`refund_until`, the stop's window less the
company's `cancel_until_minutes`) is refunded in full, one cancelled later not at all; a trip with a failed
charger that could not be re-booked is refunded in full; nothing once the first window has begun — the server
then refuses with TRIP_STARTED. The server decides; this is the quote a client shows before asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_CANCEL_UNTIL = timedelta(hours=1)  # a stop of an older server, which does not say its refund_until


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


def _stop_cents(stop: dict[str, Any]) -> int:
    price = stop.get("price")
    return int(price["total"]) if price else round(float(stop.get("cost", 0.0)) * 100)


def quote(trip: dict[str, Any], now: datetime) -> Quote:
    """The refund for cancelling `trip` (as `trips` answers it) at `now`."""
    cents = round(float(trip.get("cost", 0.0)) * 100)
    stops = trip.get("stops") or trip.get("plan", {}).get("stops") or []
    first = _time(stops[0].get("window_start")) if stops else None
    if first is None:
        return Quote(cents / 100, "all of it: the trip has no charging stop")
    if first <= now:
        return Quote(None, "the first stop's window has begun: the trip can no longer be cancelled")
    if trip.get("broken_stops"):
        return Quote(cents / 100, "all of it: a charger on it failed and no re-booking fits")
    until = [_time(s.get("refund_until")) or (_time(s["window_start"]) or first) - DEFAULT_CANCEL_UNTIL
             for s in stops]
    kept = [i for i, u in enumerate(until) if now > u]
    if not kept:
        return Quote(cents / 100, "all of it: every stop is still before its company's cancel-until")
    back = min(sum(_stop_cents(s) for i, s in enumerate(stops) if i not in kept), cents)
    names = ", ".join(str(i + 1) for i in kept)
    return Quote(back / 100, f"stop{'s' if len(kept) > 1 else ''} {names} past {'their' if len(kept) > 1 else 'its'}"
                 " company's cancel-until: not refunded")


def trip_label(trip: dict[str, Any], city_name: Any) -> str:
    """'Salvador → Recife, leaving 02/12 14:45 UTC' — how a trip picker names a trip (not by its id)."""
    plan = trip.get("plan", {})
    leave = _time(plan.get("departure"))
    when = leave.astimezone(UTC).strftime("%d/%m %H:%M") if leave else "?"
    return f"{city_name(plan.get('origin', '?'))} → {city_name(plan.get('destination', '?'))}, leaving {when} UTC"
