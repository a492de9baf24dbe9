"""The refund a driver is shown before cancelling: the policy of docs/booking.md, and trips named by route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vehicle_sim import refunds

FIRST = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TRIP = {"trip_id": "t1", "cost": 100.01, "stops": [{"window_start": FIRST.isoformat()}],
        "plan": {"origin": "salvador", "destination": "recife", "departure": "2030-01-01T10:00:00+00:00"}}


@pytest.mark.parametrize(("before", "amount"), [(timedelta(hours=2), 100.01), (timedelta(hours=1), 100.01),
                                                (timedelta(minutes=59), 50.0), (timedelta(0), None),
                                                (-timedelta(minutes=5), None)])
def test_the_quote_follows_the_policy(before, amount):
    assert refunds.quote(TRIP, FIRST - before).amount == amount


def test_a_trip_is_named_by_its_route_and_departure():
    assert refunds.trip_label(TRIP, str.title) == "Salvador → Recife, leaving 01/01 10:00 UTC"
