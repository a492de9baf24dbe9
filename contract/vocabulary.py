"""The words the wire and the log share: a booking's status, why and by whom it was canceled, a point's status.

OCPI 2.3.0's names. The contract's models speak them and so do the server's events (`servers.bookings.events`
imports them from here), so the contract imports nothing of the servers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class BookingStatus(StrEnum):
    """A booking's life, by OCPI 2.3.0's ReservationStatus names: of a trip, and of each of its stops.

    PENDING → RESERVED | REJECTED | FAILED; RESERVED → FULFILLED | CANCELED | NO_SHOW. The last five are final.
    """

    PENDING = "PENDING"
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"  # refused: a point taken, no plan, not enough credit, the car booked already…
    FAILED = "FAILED"  # an error: a company did not answer, the decision could not be recorded…
    FULFILLED = "FULFILLED"  # charging began at the stop (a trip: every stop over, one at least charged)
    CANCELED = "CANCELED"
    NO_SHOW = "NO_SHOW"  # not begun by the company's no-show timeout (a trip: no stop charged)


class CanceledReason(StrEnum):
    """Why a booking was canceled (OCPI 2.3.0's CanceledReason); the driver may add words of their own."""

    POWER_OUTAGE = "POWER_OUTAGE"
    BROKEN_CHARGER = "BROKEN_CHARGER"
    FULL = "FULL"
    BLOCKED = "BLOCKED"
    TRAFFIC = "TRAFFIC"
    BROKEN_VEHICLE = "BROKEN_VEHICLE"
    NO_CANCELED = "NO_CANCELED"  # the driver gave no reason
    UNKNOWN = "UNKNOWN"


class Role(StrEnum):
    """Who canceled (OCPI's roles): the driver through their home company, or a station's company."""

    EMSP = "EMSP"
    CPO = "CPO"


AVAILABLE: Final = "AVAILABLE"
BLOCKED: Final = "BLOCKED"
CHARGING: Final = "CHARGING"
INOPERATIVE: Final = "INOPERATIVE"
OUTOFORDER: Final = "OUTOFORDER"
PLANNED: Final = "PLANNED"
REMOVED: Final = "REMOVED"
RESERVED: Final = "RESERVED"
UNKNOWN: Final = "UNKNOWN"

#: Every OCPI EVSE status, in the order a legend lists them.
STATUSES: Final = (AVAILABLE, RESERVED, CHARGING, BLOCKED, INOPERATIVE, OUTOFORDER, PLANNED, REMOVED, UNKNOWN)
#: What an operator may set that takes a point out of service (bookings refused; `events.FAULTS` also moves its
#: reservations away). PLANNED (not yet in service) and UNKNOWN keep the reservations already made.
OPERATOR: Final = frozenset({BLOCKED, INOPERATIVE, OUTOFORDER, PLANNED, REMOVED, UNKNOWN})
#: What an operator may send meaning "in service": the server then reads what the point does from its bookings.
IN_SERVICE: Final = frozenset({AVAILABLE, CHARGING, RESERVED})
#: Spellings of before 2026-12-02 (old logs still say them; old clients still send them).
LEGACY: Final = {"OUT_OF_ORDER": OUTOFORDER}


def normalise(status: str) -> str:
    """OCPI's spelling of a status (OUT_OF_ORDER → OUTOFORDER); other values unchanged."""
    return LEGACY.get(status, status)


def operator_status(status: str) -> str:
    """What an operator's status records: AVAILABLE for every "in service" name, else OCPI's spelling."""
    status = normalise(status)
    return AVAILABLE if status in IN_SERVICE else status
