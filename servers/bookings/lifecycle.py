"""A booking's life, by OCPI 2.3.0's names: what a trip and each of its stops are now, and when a stop is missed.

Pure: reads a coordinator's `Trip` and the companies' booking terms. The
protocol's states (`TripStatus`: REQUESTED, COMMITTED, ABORTED, CANCELLED)
are the two-phase commit's; drivers see these (`BookingStatus`):

- REQUESTED → PENDING (its stops too);
- ABORTED → REJECTED, or FAILED when an error (not a refusal) ended it (its stops too);
- COMMITTED → RESERVED, then FULFILLED or NO_SHOW once every stop is over (`TripEnded`); a stop is
  RESERVED, then FULFILLED (charging began: `TripStopCheckedIn`) or NO_SHOW (`TripStopMissed`);
- CANCELLED → CANCELED (its stops too, but one already begun stays FULFILLED).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from servers.bookings.events import BookingStatus, Charging, HoldStatus, TripStatus
from servers.bookings.state import Hold, Trip, parse_time
from servers.world.network import BookingTerms

# Codes of an attempt that ended in an error rather than a refusal: the booking FAILED (OCPI), not REJECTED.
FAILURES = frozenset({"PEER_UNAVAILABLE", "UNKNOWN_COMPANY", "DECISION_FAILED", "TIMEOUT", "LOG_UNWRITABLE",
                      "LOG_UNAVAILABLE", "INTERNAL"})
# The home company records a stop missed this long after the station's company may have freed the point:
# a check-in forwarded just before that company's timeout is answered first.
MISSED_GRACE = timedelta(minutes=2)


# What a refused booking's answer says (its `status`): it never held anything.
REFUSALS = frozenset({BookingStatus.REJECTED, BookingStatus.FAILED})


def refused_status(code: str) -> BookingStatus:
    """REJECTED for a refusal, FAILED for an error."""
    return BookingStatus.FAILED if code in FAILURES else BookingStatus.REJECTED


def trip_status(trip: Trip) -> BookingStatus:
    """Where the trip's booking is in its life."""
    if trip.status is TripStatus.REQUESTED:
        return BookingStatus.PENDING
    if trip.status is TripStatus.ABORTED:
        return refused_status(trip.code)
    if trip.status is TripStatus.CANCELLED:
        return BookingStatus.CANCELED
    return BookingStatus(trip.ended) if trip.ended else BookingStatus.RESERVED


def stop_status(trip: Trip, stop: int) -> BookingStatus:
    """Where one stop's reservation is in its life."""
    if stop in trip.checked_in:
        return BookingStatus.FULFILLED
    if trip.status is TripStatus.COMMITTED:
        return BookingStatus.NO_SHOW if stop in trip.missed else BookingStatus.RESERVED
    return trip_status(trip)


def hold_status(hold: Hold) -> BookingStatus:
    """A participant's hold on a point as a booking: PENDING while undecided, RESERVED, then FULFILLED or NO_SHOW."""
    if hold.status is HoldStatus.HELD:
        return BookingStatus.PENDING
    if hold.charging is Charging.NO_SHOW:
        return BookingStatus.NO_SHOW
    return BookingStatus.FULFILLED if hold.charging else BookingStatus.RESERVED


def no_show_at(window_start: datetime, terms: BookingTerms) -> datetime:
    """When a reservation not begun becomes NO_SHOW and its point is freed (the company's timeout)."""
    return window_start + timedelta(minutes=terms.noshow_timeout_minutes)


def missed_stops(trip: Trip, now: datetime, terms_of: dict[str, BookingTerms]) -> list[int]:
    """The stops of a reserved trip whose no-show time (and the grace) has passed without a check-in."""
    if trip.status is not TripStatus.COMMITTED or trip.ended:
        return []
    return [i for i, s in enumerate(trip.plan.get("stops", []))
            if i not in trip.checked_in and i not in trip.missed
            and no_show_at(parse_time(s["window_start"]), terms_of[s["company_id"]]) + MISSED_GRACE <= now]


def ending(trip: Trip, now: datetime) -> BookingStatus | None:
    """How a reserved trip ends, once every stop is over (a trip without stops: once it has arrived); else None."""
    if trip.status is not TripStatus.COMMITTED or trip.ended:
        return None
    stops = trip.plan.get("stops", [])
    if not stops:
        arrival = trip.plan.get("arrival")
        return BookingStatus.FULFILLED if arrival and parse_time(arrival) <= now else None
    if len(trip.checked_in) + len(trip.missed) < len(stops):
        return None
    return BookingStatus.FULFILLED if trip.checked_in else BookingStatus.NO_SHOW
