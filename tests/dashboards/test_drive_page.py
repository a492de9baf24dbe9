"""The Drive page: the car moves along a booked trip and checks in at the servers."""

from __future__ import annotations

import httpx
import pytest

from tests.dashboards.helpers import book, open_app, sign_up, texts

pytestmark = pytest.mark.integration


def test_drive_asks_to_log_in_first(net):
    at = open_app("app_pages/drive.py")
    assert "Log in or sign up first" in texts(at)


def test_driving_to_the_first_stop_checks_in_there(net):
    at = book(sign_up(open_app(), credit=2000.0), destination="fortaleza")
    trip_id = at.session_state["booking"]["itinerary"]["trip_id"]
    at.switch_page("app_pages/drive.py").run()
    assert not at.exception
    assert at.selectbox(key="drive_trip").value == trip_id
    at.button(key="drive_next").click().run()  # reach stop 1: start charging
    at.button(key="drive_next").click().run()  # leave it: finish
    assert not at.exception
    log = at.dataframe[0].value
    assert list(log["check-in"]) == ["start", "finish"]
    assert "CHARGING" in log["result"].iloc[0] and "FINISHED" in log["result"].iloc[1]
    # The charging happened at the server that owns the station: its log has the events.
    first = at.session_state["booking"]["itinerary"]["stops"][0]
    api = net.companies[first["company_id"]].api_url
    found = httpx.get(f"{api}/api/v1/events", params={"after": 0, "limit": 1000}).json()["events"]
    charging = [e for e in found if e["stream_id"] == f"hold:{trip_id}" and "Charg" in e["type"]]
    assert len(charging) >= 2, [e["type"] for e in found if e["stream_id"] == f"hold:{trip_id}"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Battery"].endswith("kWh")


def test_start_and_pause_toggle_the_clock(net):
    at = book(sign_up(open_app(), credit=2000.0))
    at.switch_page("app_pages/drive.py").run()
    at.button(key="drive_toggle").click().run()
    assert at.session_state["drive"]["running"] is True
    at.button(key="drive_toggle").click().run()
    assert at.session_state["drive"]["running"] is False
    assert not at.exception


def test_after_arrival_the_page_says_arrived_with_the_battery_and_offers_no_driving(net):
    at = book(sign_up(open_app(), credit=2000.0))
    at.switch_page("app_pages/drive.py").run()
    for _ in range(20):  # every check-in, then the arrival
        if "drive_next" not in [b.key for b in at.button]:
            break
        at.button(key="drive_next").click().run()
    assert not at.exception
    keys = [b.key for b in at.button]
    assert "drive_toggle" not in keys and "drive_next" not in keys  # no Start/Pause, no Next stop
    arrived = " ".join(s.value for s in at.success)
    assert "Arrived at Recife" in arrived and "kWh (" in arrived
    # FULFILLED once the home company's next tick has seen every stop over; RESERVED until then.
    assert "Trip fulfilled" in arrived or "Trip reserved" in arrived
    assert "driving towards" not in texts(at)
