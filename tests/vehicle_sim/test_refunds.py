"""The refund a driver is shown before cancelling: the policy of docs/booking.md, and trips named by route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vehicle_sim import refunds

FIRST = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(hours=3)
TRIP = {"trip_id": "t1", "cost": 100.01,
        "stops": [{"window_start": FIRST.isoformat(), "refund_until": (FIRST - timedelta(hours=1)).isoformat(),
                   "price": {"total": 4000}},
                  {"window_start": SECOND.isoformat(), "refund_until": (SECOND - timedelta(hours=2)).isoformat(),
                   "price": {"total": 6001}}],
        "plan": {"origin": "salvador", "destination": "recife", "departure": "2030-01-01T10:00:00+00:00"}}


@pytest.mark.parametrize(("before", "amount"), [(timedelta(hours=2), 100.01), (timedelta(hours=1), 100.01),
                                                (timedelta(minutes=59), 60.01), (timedelta(0), None),
                                                (-timedelta(minutes=5), None)])
def test_the_quote_follows_each_stops_cancel_until(before, amount):
    assert refunds.quote(TRIP, FIRST - before).amount == amount


def test_past_every_cancel_until_nothing_and_a_broken_trip_in_full():
    late = FIRST - timedelta(minutes=1)
    past_both = {**TRIP, "stops": [TRIP["stops"][0], {**TRIP["stops"][1], "refund_until": late.isoformat()}]}
    assert refunds.quote(past_both, FIRST - timedelta(seconds=30)).amount == 0
    assert refunds.quote({**past_both, "broken_stops": [1]}, late).amount == 100.01


def test_a_trip_is_named_by_its_route_and_departure():
    assert refunds.trip_label(TRIP, str.title) == "Salvador → Recife, leaving 01/01 10:00 UTC"
