"""How the network map draws a station from its points' live statuses (OCPI's names)."""

from __future__ import annotations

import pytest

from dashboards import maps, theme


@pytest.mark.parametrize(("statuses", "status", "dashed"), [
    (["AVAILABLE", "RESERVED", "OUTOFORDER"], "AVAILABLE", True),  # one free now: a driver can charge
    (["CHARGING", "RESERVED"], "CHARGING", False),
    (["RESERVED", "RESERVED"], "RESERVED", False),
    (["OUTOFORDER", "OUTOFORDER", "INOPERATIVE"], "OUTOFORDER", False),  # the commonest way out of service
    (["PLANNED"], "PLANNED", False),
    (["UNKNOWN", "UNKNOWN"], "UNKNOWN", False),
    ([], "UNKNOWN", False),
])
def test_a_station_looks_like_what_a_driver_can_do_there_now(statuses, status, dashed):
    look = maps.station_look(statuses)
    assert (look.status, look.dashed) == (status, dashed)
    assert look.ring == theme.POINT_STATUS_COLORS[status]


def test_the_label_counts_points_by_status_in_the_legends_order():
    assert maps.station_look(["OUTOFORDER", "AVAILABLE", "AVAILABLE", "CHARGING"]).label == \
        "2 AVAILABLE · 1 CHARGING · 1 OUTOFORDER"
    assert maps.station_look(["SOMETHING_NEW"]).label == "1 SOMETHING_NEW"  # shown, never dropped
    assert maps.station_look([]).label == "no point"


def test_every_ocpi_status_has_a_colour_and_a_chip_in_the_legend():
    assert set(theme.POINT_STATUSES) == set(theme.POINT_STATUS_COLORS) == {
        "AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"}
    legend = theme.status_legend_html()
    assert all(s in legend for s in theme.POINT_STATUSES)


NETWORK = {
    "cities": [{"id": "salvador", "name": "Salvador", "state": "BA", "lat": -12.97, "lon": -38.5},
               {"id": "feira", "name": "Feira de Santana", "state": "BA", "lat": -12.27, "lon": -38.97}],
    "roads": [{"a": "salvador", "b": "feira", "highway": "BR-324", "km": 108}],
    "companies": [{"id": "voltpoint", "name": "VoltPoint", "color": "#2563eb"}],
    "stations": [{"id": "vp-1", "name": "VP Salvador", "company_id": "voltpoint", "city_id": "salvador",
                  "points": [{"id": "vp-1-p1", "power_kw": 50}, {"id": "vp-1-p2", "power_kw": 150}]}],
}


def test_the_stations_layer_says_each_points_live_status():
    live = {"vp-1-p1": {"status": "OUTOFORDER", "since": "2026-12-02T10:00:00+00:00"},
            "vp-1-p2": {"status": "AVAILABLE", "since": "2026-12-02T09:00:00+00:00"}}
    page = maps.network_map(NETWORK, stations=False)
    maps.stations_group(NETWORK, live=live).add_to(page)
    drawn = page.get_root().render()
    assert "VP Salvador (VoltPoint) — 1 AVAILABLE · 1 OUTOFORDER" in drawn
    assert "vp-1-p1" in drawn and "since 02/12 10:00" in drawn
    assert theme.POINT_STATUS_COLORS["AVAILABLE"] in drawn  # the ring: a point is free now
    down = maps.network_map(NETWORK, stations=False)
    maps.stations_group(NETWORK, live=live, down=["voltpoint"]).add_to(down)
    assert "server down" in down.get_root().render() and "OUTOFORDER" not in down.get_root().render()


def test_without_live_statuses_the_map_is_drawn_as_before():
    drawn = maps.network_map(NETWORK).get_root().render()
    assert "2 points: 50 kW, 150 kW" in drawn
