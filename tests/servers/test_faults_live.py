"""Charger faults on a live network: an operator puts reserved points out of order, the reservations move by
themselves, and the driver hears of it over MQTT with the new plan."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from federation.launcher import LocalNetwork
from tests.live import LiveNetworks
from tests.servers.test_gateway import new_vehicle
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("faults") as running:
        yield running


def operator(net: LocalNetwork, company: str) -> dict[str, str]:
    token = json.loads((net.run_dir / "service-logins.json").read_text())[company]["operator"]
    return {"X-Operator-Token": token}


def fail(net: LocalNetwork, point_id: str, company: str, status: str = "OUT_OF_ORDER") -> None:
    r = httpx.put(f"{net.companies[company].api_url}/api/v1/points/{point_id}/status",
                  json={"status": status, "reason": "test"}, headers=operator(net, company))
    assert r.status_code == 200, r.text


def test_every_point_of_a_trip_fails_and_the_driver_is_told_of_each_move_over_mqtt(net):
    car = new_vehicle(net, "voltpoint", 41)
    try:
        departure = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
        trip = car.request("book", 30, request_id=uuid.uuid4().hex, origin="salvador", destination="fortaleza",
                           departure=departure)
        assert trip["status"] == "RESERVED"
        stop = trip["stops"][-1]
        fail(net, stop["point_id"], stop["company_id"])

        def told() -> list[dict]:
            return [n for n in car.notices if n.get("trip_id") == trip["trip_id"]]

        notices = eventually(told, timeout=20)
        first = notices[0]
        assert first["kind"] in ("MOVED", "BROKEN") and first["stop"] == stop["stop"]
        assert first["trip"]["trip_id"] == trip["trip_id"]
        if first["kind"] == "BROKEN":  # no other point free there: re-booked from the stop before
            done = eventually(lambda: [n for n in told() if n["kind"] in ("REBOOKED", "NOT_REBOOKED")], timeout=30)
            assert done[0]["kind"] == "REBOOKED", done
        now = car.request("trip", trip_id=trip["trip_id"])
        assert now["status"] == "RESERVED" and now["broken_stops"] == []
        assert now["stops"][stop["stop"]]["point_id"] != stop["point_id"]
        assert [n["kind"] for n in now["notices"]][:1] == [first["kind"]]
    finally:
        car.close()
