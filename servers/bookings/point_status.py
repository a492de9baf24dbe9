"""A charging point's live status, by OCPI's names, derived from a participant's state at a moment.

OCPI 2.3.0's EVSE statuses: AVAILABLE, BLOCKED, CHARGING, INOPERATIVE,
OUTOFORDER, PLANNED, REMOVED, RESERVED, UNKNOWN. Some an operator sets (the
point is not in service), the others follow from the bookings:

1. an operator's status (OUTOFORDER, INOPERATIVE, BLOCKED, REMOVED, PLANNED, UNKNOWN) wins;
2. else CHARGING while a charging session runs on the point;
3. else RESERVED while a confirmed reservation not begun covers the moment — from its window's start less
   the company's early-start grace (`BookingTerms.early_start_minutes`: a car may plug in that early) to the
   window's end (a reservation not begun by then is freed by the no-show timeout anyway);
4. else AVAILABLE.

A point this company does not have is UNKNOWN. `derive` also says when time alone may change the answer (a
window opening or closing), so a caller re-evaluates a point then and not on every beat. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contract.vocabulary import AVAILABLE as AVAILABLE
from contract.vocabulary import BLOCKED as BLOCKED
from contract.vocabulary import CHARGING as CHARGING
from contract.vocabulary import IN_SERVICE as IN_SERVICE
from contract.vocabulary import INOPERATIVE as INOPERATIVE
from contract.vocabulary import LEGACY as LEGACY
from contract.vocabulary import OPERATOR as OPERATOR
from contract.vocabulary import OUTOFORDER as OUTOFORDER
from contract.vocabulary import PLANNED as PLANNED
from contract.vocabulary import REMOVED as REMOVED
from contract.vocabulary import RESERVED as RESERVED
from contract.vocabulary import STATUSES as STATUSES
from contract.vocabulary import UNKNOWN as UNKNOWN
from contract.vocabulary import normalise as normalise
from contract.vocabulary import operator_status as operator_status
from servers.bookings.events import Charging, HoldStatus
from servers.bookings.state import ServerState


@dataclass(frozen=True, slots=True)
class Derived:
    """A point's live status at a moment.

    `since`: when it began, where the state tells (RESERVED: the window's opening), else None.
    `next_change`: the next moment time alone may change it (a confirmed window opening or closing), else None
    (only an event can). `trip`: the trip reserving or charging on it (RESERVED, CHARGING), else "".
    """

    status: str
    since: datetime | None = None
    next_change: datetime | None = None
    trip: str = ""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def derive(state: ServerState, point_id: str, now: datetime, early_start: timedelta, *,
           known: bool = True) -> Derived:
    """The live status of `point_id` at `now`; `known`: the point is one of this company's.

    Cost: the holds on the point when one may be charging, else two bisections and the windows open now.
    """
    if not known:
        return Derived(UNKNOWN)
    set_by_operator = state.point_status.get(point_id)
    if set_by_operator is not None and operator_status(set_by_operator) != AVAILABLE:
        status = normalise(set_by_operator)
        return Derived(status if status in OPERATOR else UNKNOWN)  # a name this server does not know
    holds = state.occupancy.get(point_id)
    windows = state.windows.get(point_id)
    if not holds or windows is None:
        return Derived(AVAILABLE)
    charging = next((h for h in holds.values() if h.charging is Charging.CHARGING), None)
    if charging is not None:  # until it finishes: no window ends a session
        return Derived(CHARGING, trip=charging.trip_id)

    t, early = now.timestamp(), early_start.total_seconds()
    items = windows.items  # (start, end, key), sorted by start
    opened = bisect.bisect_right(items, (t + early, math.inf))  # items[:opened] have opened by now
    first = bisect.bisect_left(items, (t - windows.longest,))  # those before it have ended
    reserved: tuple[float, float, str] | None = None
    closes = math.inf
    for start, end, key in items[first:opened]:
        hold = holds[key]
        if end > t and hold.status is HoldStatus.CONFIRMED and hold.charging is Charging.NOT_YET:
            if reserved is None or start < reserved[0]:
                reserved = (start, end, hold.trip_id)
            closes = min(closes, end)
    opens = math.inf
    for i in range(opened, len(items)):  # the next confirmed window to open (undecided ones need an event)
        hold = holds[items[i][2]]
        if hold.status is HoldStatus.CONFIRMED and hold.charging is Charging.NOT_YET:
            opens = items[i][0] - early
            break
    due = min(closes, opens)
    next_change = _at(due) if due != math.inf else None
    if reserved is None:
        return Derived(AVAILABLE, next_change=next_change)
    return Derived(RESERVED, since=_at(reserved[0] - early), next_change=next_change, trip=reserved[2])
