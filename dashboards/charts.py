"""Altair charts of the pages, built as values (pure: data in, chart out) so tests can read their specs.

Time on every chart is the network's clock, UTC, whatever the browser's own zone: a `utc` scale, axes and
tooltips formatted in UTC with a 24-hour clock, and "(UTC)" in the axis title.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

#: dd/mm HH:MM, 24-hour (Vega's d3-time-format; %H, never %I).
TIME_FORMAT = "%d/%m %H:%M"


def utc_x(field: str, title: str = "time (UTC)") -> alt.X:
    """A temporal x channel drawn in UTC with 24-hour labels."""
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format=TIME_FORMAT, formatType="utc", labelOverlap=True))


def utc_tooltip(field: str, title: str | None = None) -> alt.Tooltip:
    """A tooltip of a time, in UTC with a 24-hour clock."""
    return alt.Tooltip(f"{field}:T", title=title or f"{field} (UTC)", format=TIME_FORMAT, formatType="utc")


def charge_line(points: list[dict[str, Any]], color: str) -> alt.Chart:
    """The battery's charge along a trip: `points` of {time, kWh, where}."""
    return alt.Chart(pd.DataFrame(points)).mark_line(point=True, color=color).encode(
        x=utc_x("time"), y=alt.Y("kWh:Q", title="battery (kWh)"),
        tooltip=["where", utc_tooltip("time"), alt.Tooltip("kWh:Q", format=".1f")]).properties(height=220)


def bookings_timeline(bars: list[dict[str, Any]], points: int) -> alt.Chart:
    """A station's bookings, one row per point: `bars` of {point, trip, start, end, status}."""
    return alt.Chart(pd.DataFrame(bars)).mark_bar(cornerRadius=3).encode(
        x=utc_x("start", "time (UTC)"), x2="end:T", y=alt.Y("point:N", title=None), color="status:N",
        tooltip=["trip", "status", utc_tooltip("start"), utc_tooltip("end")]).properties(height=40 + 24 * points)
