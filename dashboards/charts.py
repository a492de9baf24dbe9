"""Altair charts of the pages, built as values (pure: data in, chart out) so tests can read their specs.

Time on every chart is the network's clock, UTC, whatever the browser's own zone: a `utc` scale with a
24-hour label format (Vega-Lite then formats the labels in UTC too; an explicit `formatType: "utc"` would
make it drop the format and fall back to its 12-hour default), "(UTC)" in the axis title, and tooltips that
show times already written in UTC (a tooltip has no scale, so Vega would write it in the browser's zone).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from dashboards.theme import when

#: dd/mm HH:MM, 24-hour (Vega's d3-time-format; %H, never %I).
TIME_FORMAT = "%d/%m %H:%M"


def utc_x(field: str, title: str = "time (UTC)") -> alt.X:
    """A temporal x channel drawn in UTC with 24-hour labels."""
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format=TIME_FORMAT, labelOverlap=True))


def charge_line(points: list[dict[str, Any]], color: str) -> alt.Chart:
    """The battery's charge along a trip: `points` of {time, kWh, where}."""
    frame = pd.DataFrame(points)
    frame["when (UTC)"] = [when(t) for t in frame["time"]]
    return alt.Chart(frame).mark_line(point=True, color=color).encode(
        x=utc_x("time"), y=alt.Y("kWh:Q", title="battery (kWh)"),
        tooltip=["where", "when (UTC)", alt.Tooltip("kWh:Q", format=".1f")]).properties(height=220)


def bookings_timeline(bars: list[dict[str, Any]], points: int) -> alt.Chart:
    """A station's bookings, one row per point: `bars` of {point, trip, start, end, status}."""
    frame = pd.DataFrame(bars)
    frame["from (UTC)"] = [when(t) for t in frame["start"]]
    frame["to (UTC)"] = [when(t) for t in frame["end"]]
    return alt.Chart(frame).mark_bar(cornerRadius=3).encode(
        x=utc_x("start"), x2="end:T", y=alt.Y("point:N", title=None), color="status:N",
        tooltip=["trip", "status", "from (UTC)", "to (UTC)"]).properties(height=40 + 24 * points)
