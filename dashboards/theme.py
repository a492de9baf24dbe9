"""How the dashboards show things: company colours, badges, money, durations and times for people."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any, get_args

from contract.models import PointStatus

#: Used for a company the network file does not colour, and for a server that is down.
FALLBACK_COLOR = "#64748b"
DOWN_COLOR = "#94a3b8"

#: Plain words for the stable error codes a driver may meet (docs/booking.md); unknown codes show the
#: server's own message.
REASONS = {
    "INSUFFICIENT_CREDIT": "Not enough credit for this trip.",
    "POINT_TAKEN": "A charging point on the way is already taken in that time window.",
    "PEER_UNAVAILABLE": "A company on the way did not answer.",
    "NO_PLAN": "No plan fits what is free.",
    "UNKNOWN_CITY": "That city is not on the network.",
    "UNREACHABLE": "This car cannot reach the destination with the stations on the way.",
    "TRIP_STARTED": "The trip has begun; it can no longer be cancelled.",
    "NOT_CONFIRMED": "Only confirmed trips can be changed.",
    "BAD_CREDENTIALS": "Wrong login or password.",
    "TOO_MANY_ATTEMPTS": "Too many failed logins; wait a few minutes.",
    "ACCOUNT_EXISTS": "An account with this CPF or e-mail already exists: log in instead.",
    "INVALID_CPF": "That CPF is not valid.",
    "BAD_TOKEN": "The session expired: log in again.",
    "VALIDATION_ERROR": "Some fields are not valid.",
    "DEPARTURE_IN_PAST": "That departure is in the past: choose a later time.",
}


def company_colors(network: dict[str, Any]) -> dict[str, str]:
    """Company id → its colour from the network file (the one source of company colours)."""
    return {c["id"]: c.get("color") or FALLBACK_COLOR for c in network.get("companies", [])}


def company_names(network: dict[str, Any]) -> dict[str, str]:
    """Company id → its name."""
    return {c["id"]: c["name"] for c in network.get("companies", [])}


def city_names(network: dict[str, Any]) -> dict[str, str]:
    """City id → "Name (ST)"."""
    return {c["id"]: f"{c['name']} ({c['state']})" for c in network.get("cities", [])}


def chip(label: str, color: str) -> str:
    """An inline coloured label (HTML) for legends and badges."""
    return (f'<span style="display:inline-block;padding:1px 8px;margin:1px 4px 1px 0;border-radius:10px;'
            f'background:{color};color:#fff;font-size:0.85em;font-weight:600">{html.escape(label)}</span>')


#: OCPI's EVSE statuses, in the order the legend lists them (the contract's `PointStatus`).
POINT_STATUSES: tuple[str, ...] = get_args(PointStatus)
#: Set by an operator: the point does not take cars (the others are in service, or UNKNOWN).
OUT_OF_SERVICE = frozenset({"BLOCKED", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED"})
#: How maps and tables draw a point's live status: green free, amber booked now, blue charging, reds out of
#: service (PLANNED: not yet built, violet), grey unknown.
POINT_STATUS_COLORS = {"AVAILABLE": "#16a34a", "RESERVED": "#d97706", "CHARGING": "#2563eb", "BLOCKED": "#b91c1c",
                       "INOPERATIVE": "#dc2626", "OUTOFORDER": "#dc2626", "PLANNED": "#7c3aed", "REMOVED": "#7f1d1d",
                       "UNKNOWN": DOWN_COLOR}


def status_color(status: str) -> str:
    """The colour of a point's live status (grey for a name this page does not know)."""
    return POINT_STATUS_COLORS.get(status, DOWN_COLOR)


def status_legend_html() -> str:
    """One chip per OCPI status, in its colour."""
    return " ".join(chip(s, status_color(s)) for s in POINT_STATUSES)


def legend_html(network: dict[str, Any], down: set[str] | frozenset[str] = frozenset()) -> str:
    """One chip per company in its colour; a company whose server is down is greyed and says so."""
    colors, names = company_colors(network), company_names(network)
    return " ".join(chip(f"{names[c]} — down" if c in down else names[c], DOWN_COLOR if c in down else colors[c])
                    for c in names)


def _words(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def reason(code: str, message: str) -> str:
    """A refusal or error in words: the plain sentence for a known code, then the server's message when it
    adds something (never the same words twice: "Wrong login or password. (wrong login or password)")."""
    plain = REASONS.get(code)
    if plain and message and _words(message) not in _words(plain):
        return f"{plain} ({message})"
    return plain or message or code


def money(value: float | None) -> str:
    """R$ 1.234,56 — Brazilian style, as the terminal client writes it."""
    if value is None:
        return "—"
    text = f"{float(value):,.2f}"
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def count(n: int, one: str, many: str | None = None) -> str:
    """'1 booking', '3 bookings'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def free_now(point: dict[str, Any], now: datetime) -> bool:
    """Whether a point (as `/api/v1/stations` gives it) is in service and not booked at this moment.

    The server's own `free` means free for the whole window asked about (the next hours), not now.
    """
    if point.get("status") != "AVAILABLE":
        return False
    for booking in point.get("bookings", []):
        start, end = parse_time(booking.get("start")), parse_time(booking.get("end"))
        if start is not None and end is not None and start <= now < end:
            return False
    return True


def hm(minutes: float | None) -> str:
    """A duration as 3h05."""
    if minutes is None:
        return "—"
    whole = math.ceil(minutes - 1e-9)
    return f"{whole // 60}h{whole % 60:02d}"


def parse_time(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 string (as the servers send) as an aware datetime."""
    if value is None or value == "":
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def when(value: str | datetime | None) -> str:
    """A time a person reads: 24/11 14:05 (UTC, the network's clock)."""
    t = parse_time(value)
    return "—" if t is None else t.astimezone(UTC).strftime("%d/%m %H:%M")
