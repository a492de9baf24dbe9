"""The plans a refused booking offers, as a driver weighs them: arrival, time and price against the plan asked
for, and the arguments that book one. Pure: shared by the terminal client and the Book page.

A refusal's `details.alternatives.plans` are summaries (path, stops with their windows, total_minutes,
cost_by_company) planned around what was taken. Booking one again means asking the home company for the
same trip while avoiding every station the plan does not use, so the planner can only take that plan's
stations (it still picks the points and may still be refused if they are taken meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: How many plans a driver is shown at once.
SHOWN = 3
#: The contract's limit on `avoid_stations` (TripIn).
MAX_AVOID = 50


@dataclass(frozen=True)
class Option:
    """One alternative plan, with what it changes against the plan first asked for."""

    number: int  # 1-based, as shown
    plan: dict[str, Any]
    arrival: datetime | None
    total_minutes: float
    cost: float
    minutes_later: float | None  # against the reference; None without one
    cost_more: float | None
    stations: tuple[str, ...]


def plan_cost(plan: dict[str, Any]) -> float:
    """R$ of a plan (the sum over its companies)."""
    return round(sum(float(v) for v in (plan.get("cost_by_company") or {}).values()), 2)


def options(plans: Sequence[dict[str, Any]], departure: datetime | None,
            reference: dict[str, Any] | None = None) -> list[Option]:
    """Up to `SHOWN` alternatives, each against `reference` (the plan asked for, when known)."""
    ref_minutes = float(reference["total_minutes"]) if reference and "total_minutes" in reference else None
    ref_cost = plan_cost(reference) if reference else None
    found = []
    for i, plan in enumerate(plans[:SHOWN], 1):
        minutes = float(plan.get("total_minutes", 0.0))
        cost = plan_cost(plan)
        arrival = (datetime.fromisoformat(plan["arrival"]) if plan.get("arrival")  # a later departure: its own
                   else departure + timedelta(minutes=minutes) if departure else None)
        found.append(Option(
            number=i, plan=dict(plan), arrival=arrival,
            total_minutes=minutes, cost=cost,
            minutes_later=None if ref_minutes is None else minutes - ref_minutes,
            cost_more=None if ref_cost is None else round(cost - ref_cost, 2),
            stations=tuple(str(s["station_id"]) for s in plan.get("stops", []))))
    return found


def take_args(args: dict[str, Any], plan: dict[str, Any], every_station: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The trip's arguments that make the planner take `plan`: avoid every station it does not use.

    `every_station`: (station id, city id) of the whole network. Those on the plan's road come first, since
    they are the ones the planner would otherwise pick; the contract takes at most `MAX_AVOID`.
    """
    keep = {str(s["station_id"]) for s in plan.get("stops", [])}
    on_road = set(plan.get("path", []))
    others = sorted(((sid, city) for sid, city in every_station if sid not in keep),
                    key=lambda sc: (sc[1] not in on_road, sc[0]))
    taken = {**args, "avoid_stations": [sid for sid, _ in others][:MAX_AVOID]}
    if plan.get("departure"):  # a plan offered for a later departure is booked at that time
        taken["departure"] = plan["departure"]
    return taken


def signed_minutes(minutes: float) -> str:
    """+1h05 / −0h20 / same time."""
    if abs(minutes) < 0.5:
        return "same time"
    whole = round(abs(minutes))
    return f"{'+' if minutes > 0 else '−'}{whole // 60}h{whole % 60:02d}"


def unavailable_company(details: dict[str, Any], names: dict[str, str]) -> str | None:
    """The name of the company a PEER_UNAVAILABLE refusal names (`details.company`), if it names one."""
    company = details.get("company")
    if not company:
        return None
    return names.get(str(company), str(company))
