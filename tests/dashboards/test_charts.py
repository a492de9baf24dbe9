"""The pages' charts draw time on the network's clock: UTC, labelled, 24-hour — whatever the browser's zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dashboards import charts, parts

STOP_AT = datetime(2030, 1, 1, 16, 15, tzinfo=UTC)  # a 16:15 stop must never read 04:15
PLAN = {"departure": "2030-01-01T14:00:00+00:00", "arrival": "2030-01-01T19:00:00+00:00", "arrival_kwh": 6.0,
        "stops": [{"arrive_at": STOP_AT.isoformat(), "depart_at": "2030-01-01T16:45:00+00:00",
                   "arrive_kwh": 8.0, "energy_kwh": 30.0}]}


def specs() -> list[dict]:
    line = charts.charge_line(parts.charge_points(PLAN, 40.0), "#000").to_dict()
    bars = charts.bookings_timeline([{"point": "p1", "trip": "t1", "start": STOP_AT, "end": STOP_AT,
                                      "status": "RESERVED"}], 1).to_dict()
    return [line, bars]


@pytest.mark.parametrize("spec", specs(), ids=["battery", "timeline"])
def test_every_time_on_a_chart_is_utc_with_a_24_hour_clock(spec):
    x = spec["encoding"]["x"]
    assert x["scale"]["type"] == "utc"  # drawn in UTC, not in the browser's zone
    assert "UTC" in x["title"]
    fmt = x["axis"]["format"]
    assert "%H" in fmt and "%I" not in fmt and "%p" not in fmt
    # Vega-Lite drops an axis format given with formatType "utc" and draws its 12-hour default (seen in Chromium).
    assert "formatType" not in x["axis"]


@pytest.mark.parametrize("spec", specs(), ids=["battery", "timeline"])
def test_tooltips_show_times_already_written_in_utc(spec):
    tips = spec["encoding"]["tooltip"]
    assert not [t for t in tips if isinstance(t, dict) and t.get("type") == "temporal"]  # no browser-zone times
    timed = [t["field"] for t in tips if isinstance(t, dict) and "(UTC)" in t.get("field", "")]
    assert timed
    rows = spec["datasets"][next(iter(spec["datasets"]))]
    assert any(row[timed[0]].endswith("16:15") for row in rows)


def test_the_data_keeps_the_absolute_time():
    # An aware datetime goes to the browser as an instant, not as a wall time of some zone.
    data = json.dumps(charts.charge_line(parts.charge_points(PLAN, 40.0), "#000").to_dict(), default=str)
    assert "16:15" in data
