"""The terminal tells a driver of a failed charger in words: moved, being re-booked, re-booked, or not."""

from __future__ import annotations

from vehicle_sim.views import notice_line


def test_each_kind_of_notice_reads_as_what_it_means_for_the_driver():
    moved = notice_line({"kind": "MOVED", "trip_id": "t1", "stop": 1, "point_id": "ec-x-p2",
                         "reason": "BROKEN_CHARGER"})
    assert "stop 2" in moved.plain and "ec-x-p2" in moved.plain and "same station" in moved.plain
    assert "re-booking" in notice_line({"kind": "BROKEN", "trip_id": "t1", "stop": 0, "reason": "POWER_OUTAGE"}).plain
    dearer = notice_line({"kind": "REBOOKED", "trip_id": "t1", "stop": 2, "price_difference": 12.5})
    cheaper = notice_line({"kind": "REBOOKED", "trip_id": "t1", "stop": 2, "price_difference": -3.0})
    assert "more" in dearer.plain and "refunded" in cheaper.plain and "12,50" in dearer.plain
    none = notice_line({"kind": "NOT_REBOOKED", "trip_id": "t1", "stop": 0, "reason": "nothing in range"})
    assert "full refund" in none.plain and "nothing in range" in none.plain
