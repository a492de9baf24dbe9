"""Money on a live network (#14 items 2–4): a plan previewed with each stop's price by part and each company's
terms (REST and MQTT), a cancel refunded by the terms, a stop charged at with its charge detail record in the
driver's statement and in the company's figures — and every invariant holding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from federation.launcher import LocalNetwork
from tests.live import Api, LiveNetworks, departure, plan_request, signup_form
from vehicle_sim.client import VehicleClient, signup

pytestmark = pytest.mark.integration

ROUTE = ("salvador", "fortaleza")  # stops at all three companies


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("money-net") as running:
        yield running


def _parts_sum(stop: dict) -> int:
    price = stop["price"]
    return sum(price[k] for k in ("energy", "charging_time", "idle", "session", "reservation"))


def test_a_preview_prices_each_stop_by_part_and_shows_the_terms_over_rest_and_mqtt(net):
    base = net.companies["voltpoint"].api_url
    plan = httpx.post(base + "/api/v1/plan", json=plan_request(*ROUTE), timeout=30).json()["plans"][0]
    companies = {s["company_id"] for s in plan["stops"]}
    assert set(plan["terms"]) == companies
    for cid in companies:
        assert plan["terms"][cid] == net.network.company(cid).booking_terms.to_json()
    for stop in plan["stops"]:
        assert stop["price"]["total"] == _parts_sum(stop) == round(stop["cost"] * 100)
        assert stop["price"]["idle"] == 0
        assert stop["price"] == net.network.tariff(stop["station_id"]).price(
            stop["energy_kwh"], stop["charge_minutes"]).to_json()
    by_company = {c: sum(s["price"]["total"] for s in plan["stops"] if s["company_id"] == c) for c in companies}
    assert {c: round(v * 100) for c, v in plan["cost_by_company"].items()} == by_company
    # The same over MQTT, for a signed-up car.
    host, port = "127.0.0.1", net.companies["voltpoint"].broker_port
    session = signup(host, port, "voltpoint", signup_form(9101))
    car = VehicleClient(host, port, "voltpoint", session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"], resend_interval=1.0)
    car.connect(timeout=10)
    car.token = session["token"]
    try:
        over_mqtt = car.request("plan", 10, origin=ROUTE[0], destination=ROUTE[1], departure=departure(3))["plans"][0]
    finally:
        car.close()
    assert set(over_mqtt["terms"]) == {s["company_id"] for s in over_mqtt["stops"]}
    assert all(s["price"]["total"] == _parts_sum(s) for s in over_mqtt["stops"])


def test_book_cancel_by_the_terms_then_charge_and_find_the_record_in_the_statement(net):
    api = Api(net.companies["voltpoint"].api_url, form_seed=9102)
    # Leaving in 20 min almost empty: the first stop, at once, is within its company's cancel-until; the later
    # ones, hours away, are not.
    soon = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0).isoformat()
    r = api.http.post("/api/v1/trips", json={"origin": ROUTE[0], "destination": ROUTE[1], "departure": soon,
                                             "charge_kwh": 6.0})
    assert r.status_code == 201, r.text
    trip = r.json()
    debited = round(trip["cost"] * 100)
    assert debited == sum(s["price"]["total"] for s in trip["stops"])
    now = datetime.now(UTC)
    kept = [s for s in trip["stops"] if datetime.fromisoformat(s["refund_until"]) < now]
    assert kept and kept[0]["stop"] == 0 and len(kept) < len(trip["stops"])
    assert set(trip["terms"]) == {s["company_id"] for s in trip["stops"]}
    cancelled = api.http.post(f"/api/v1/trips/{trip['trip_id']}/cancel", json={"reason": "TRAFFIC"})
    assert cancelled.status_code == 200, cancelled.text
    assert round(cancelled.json()["refund"] * 100) == debited - sum(s["price"]["total"] for s in kept)

    r = api.book(*ROUTE, departure(hours=8))
    assert r.status_code == 201, r.text
    charged = r.json()
    first = charged["stops"][0]
    path = f"/api/v1/trips/{charged['trip_id']}/check-in"
    assert api.http.post(path, json={"trip_id": charged["trip_id"], "stop": 0, "action": "start"}).status_code == 200
    done = api.http.post(path, json={"trip_id": charged["trip_id"], "stop": 0, "action": "finish",
                                     "energy_kwh": 15.0})
    assert done.status_code == 200, done.text
    cdr = done.json()["cdr"]
    assert cdr["energy_kwh"] == 15.0 and cdr["price"]["total"] == done.json()["cost_cents"] > 0
    assert cdr["price"]["energy"] == int(15.0 * net.network.tariff(first["station_id"]).per_kwh * 100 + 0.5)

    me = api.http.get("/api/v1/me").json()
    kinds = [e["kind"] for e in me["statement"]]
    assert kinds == ["credit", "debit", "refund", "debit", "charge"]
    record = me["statement"][-1]
    assert record["trip_id"] == charged["trip_id"] and record["amount_cents"] == 0
    assert record["charge"]["price"] == cdr["price"] and record["charge"]["point_id"] == first["point_id"]
    shown = api.http.get(f"/api/v1/trips/{charged['trip_id']}").json()
    assert [c["stop"] for c in shown["charges"]] == [0]

    company = net.companies[first["company_id"]].api_url
    figures = httpx.get(company + "/api/v1/company/figures", timeout=10).json()
    assert figures["company"] == first["company_id"] and figures["sessions"] >= 1
    assert figures["revenue_cents"]["total"] >= cdr["price"]["total"] and figures["energy_kwh"] >= 15.0
    assert net.settle(20)[0] == []
