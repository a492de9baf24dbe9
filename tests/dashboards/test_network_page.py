"""The network map page: every company up, then one server down shown as down (never an error page)."""

from __future__ import annotations

import pytest

from tests.dashboards.helpers import open_app, texts

pytestmark = pytest.mark.integration


def test_network_page_shows_every_company_up_with_figures(net):
    at = open_app("app_pages/network.py")
    page = texts(at)
    for name in ("VoltPoint · up", "E-Flux · up", "EcoCharge · up"):
        assert name in page
    figures = at.dataframe[0].value
    assert list(figures.columns) == ["VoltPoint", "E-Flux", "EcoCharge"]
    assert figures.loc["points"].min() > 0
    # Labels say what they count: these figures count trips, not points.
    assert {"trips holding points", "trips with reserved points"} <= set(figures.index)
    assert not {"held", "reserved"} & set(figures.index)
    # Each company's charging and money: its charge records summed (GET /api/v1/company/figures).
    money = at.dataframe[1].value
    assert list(money.columns) == ["VoltPoint", "E-Flux", "EcoCharge"]
    assert {"charge records", "kWh delivered", "revenue: total", "no-show fees"} <= set(money.index)
    assert at.selectbox(key="net_station").value
    # The map's legend names OCPI's point statuses; the chosen station's points say theirs, live.
    assert "Points, live" in page and all(s in page for s in ("AVAILABLE", "OUTOFORDER", "CHARGING"))
    points = at.dataframe[-1].value
    assert "live" in points.columns and set(points["live"]) <= {"AVAILABLE", "RESERVED", "CHARGING", "BLOCKED",
                                                               "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED"}
    assert " 1 bookings" not in " ".join(at.selectbox(key="net_station").options)


def test_the_heavy_parts_wait_to_be_asked_for(net):
    # First paint (issue #16 item 12): the first chart of a page loads Vega, the event log's map a whole
    # network of layers; both are drawn when asked for.
    at = open_app("app_pages/network.py")
    assert not at.get("vega_lite_chart")
    if "net_timeline" in [t.key for t in at.toggle]:  # a station with bookings: its timeline on demand
        at.toggle(key="net_timeline").set_value(True).run()
        assert at.get("vega_lite_chart")
    log = open_app("app_pages/eventlog.py")
    if "log is empty" not in texts(log):
        assert log.toggle(key="log_show_map").value is False


def test_event_log_page_rebuilds_the_state_at_a_sequence(net):
    at = open_app("app_pages/eventlog.py")
    if "log is empty" in texts(at):  # this test may run before anything was booked at VoltPoint
        return
    assert "Hash chain intact" in texts(at)
    assert {"Trips holding", "Trips reserved"} <= {m.label for m in at.metric}  # trips, not points
    head = at.slider(key="log_seq").value
    at.slider(key="log_seq").set_value(max(1, head // 2)).run()
    assert not at.exception
    assert f"State after event {max(1, head // 2)} of" in texts(at)
    at.selectbox(key="log_company").set_value("eflux").run()
    assert not at.exception


@pytest.fixture(scope="module")
def half_down(live_network, net):
    """A second network whose E-Flux server is killed (the session network stays untouched)."""
    with live_network("dash-down") as other, pytest.MonkeyPatch.context() as env:
        env.setenv("RECARGA_CLIENTS_FILE", str(other.clients_file))
        other.kill_server("eflux")
        yield other


def test_a_server_that_is_down_is_shown_as_down(half_down):
    at = open_app("app_pages/network.py")
    page = texts(at)
    assert "E-Flux · down" in page and "VoltPoint · up" in page
    assert "Server down" in page
    assert not at.exception


def test_event_log_of_a_down_server_says_so(half_down):
    at = open_app("app_pages/eventlog.py")
    at.selectbox(key="log_company").set_value("eflux").run()
    assert not at.exception
    assert "server is down" in texts(at)
