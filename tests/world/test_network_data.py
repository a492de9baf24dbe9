"""The packaged network file: real places, plausible roads, sound references."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from servers.world.network import DEFAULT_PATH, Network, NetworkDataError, great_circle_km, parse_network

# Generous bounding boxes (lat min, lat max, lon min, lon max) of each state, mainland only.
STATE_BOXES = {
    "BA": (-18.35, -8.53, -46.62, -37.34),
    "SE": (-11.57, -9.51, -38.25, -36.39),
    "AL": (-10.50, -8.81, -38.24, -35.15),
    "PE": (-9.48, -7.27, -41.36, -34.80),
    "PB": (-8.30, -6.02, -38.77, -34.79),
    "RN": (-6.98, -4.83, -38.58, -34.97),
    "CE": (-7.86, -2.78, -41.42, -37.25),
    "PI": (-10.93, -2.74, -45.99, -40.37),
}


def test_the_graph_is_connected(network: Network) -> None:
    assert set(network.shortest_km("salvador")) == {c.id for c in network.cities}


def test_every_city_lies_inside_its_state(network: Network) -> None:
    for city in network.cities:
        lat0, lat1, lon0, lon1 = STATE_BOXES[city.state]
        assert lat0 <= city.lat <= lat1 and lon0 <= city.lon <= lon1, city.id


def test_roads_are_no_shorter_than_the_straight_line_nor_longer_than_1_6_times_it(network: Network) -> None:
    for road in network.roads:
        straight = great_circle_km(network.city(road.a), network.city(road.b))
        assert straight <= road.km <= 1.6 * straight, (road.id, road.km, round(straight, 1))


def test_ids_are_unique_and_slugs(network: Network) -> None:
    ids = [c.id for c in network.cities] + [r.id for r in network.roads] + [c.id for c in network.companies]
    ids += [s.id for s in network.stations] + [p.id for s in network.stations for p in s.points]
    assert not [i for i, n in Counter(ids).items() if n > 1]


def test_there_are_enough_cities_in_every_state(network: Network) -> None:
    assert len(network.cities) >= 40
    assert set(Counter(c.state for c in network.cities)) == set(STATE_BOXES)


def test_stations_are_in_their_company_state_in_at_least_six_cities(network: Network) -> None:
    assert {c.id for c in network.companies} >= {"voltpoint", "eflux", "ecocharge"}
    for company in network.companies:
        stations = network.stations_of(company.id)
        assert len({s.city_id for s in stations}) >= 6, company.id
        assert all(network.city(s.city_id).state == company.state for s in stations)
        assert all(s.id.startswith(f"{s.id.split('-')[0]}-{s.city_id}-") for s in stations)
    assert not [s for s in network.stations if network.city(s.city_id).state in {"SE", "AL", "PB", "RN", "PI"}]


def test_every_station_has_two_to_eight_points_of_mixed_power(network: Network) -> None:
    for station in network.stations:
        assert 2 <= len(station.points) <= 8, station.id
        assert all(p.id.startswith(station.id + "-p") for p in station.points)
    powers = Counter(p.power_kw for s in network.stations for p in s.points)
    assert {22.0, 50.0, 150.0} <= set(powers)


def test_lookups(network: Network) -> None:
    assert network.city("feira-de-santana").name == "Feira de Santana"
    assert network.road_km("salvador", "feira-de-santana") == network.road_km("feira-de-santana", "salvador")
    assert "feira-de-santana" in network.neighbours("salvador")
    assert network.point_owner("vp-salvador-1-p1").id == "vp-salvador-1"
    assert network.company("voltpoint").broker_port == 18831
    assert network.road_path("recife", "natal") == ("recife", "joao-pessoa", "natal")


def raw() -> dict:
    return json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_a_fourth_company_is_a_data_change() -> None:
    data = raw()
    data["companies"].append({"id": "sergipe-volt", "name": "Sergipe Volt", "state": "SE", "price_per_kwh": 1.79,
                              "color": "#a855f7", "broker_port": 18834, "api_port": 8104})
    data["stations"].append({"id": "sv-aracaju-1", "company_id": "sergipe-volt", "city_id": "aracaju",
                             "name": "Sergipe Volt Aracaju", "points": [
                                 {"id": "sv-aracaju-1-p1", "power_kw": 50, "connector": "CCS_2"},
                                 {"id": "sv-aracaju-1-p2", "power_kw": 22, "connector": "TYPE_2"}]})
    net = parse_network(data)
    assert [s.id for s in net.stations_of("sergipe-volt")] == ["sv-aracaju-1"]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["stations"][0].update(city_id="gotham"), "gotham"),
    (lambda d: d["stations"][0].update(company_id="acme"), "acme"),
    (lambda d: d["roads"][0].update(b="atlantida"), "atlantida"),
    (lambda d: d["cities"].append(copy.deepcopy(d["cities"][0])), "duplicate city id 'salvador'"),
    (lambda d: d["stations"][0]["points"][0].update(connector="SCHUKO"), "vp-salvador-1"),
    (lambda d: d["stations"][0].update(city_id="fortaleza"), "vp-salvador-1"),
    (lambda d: d["roads"][0].update(km=-3), "km"),
])
def test_bad_data_is_refused_naming_the_bad_id(mutate, message: str) -> None:
    data = raw()
    mutate(data)
    with pytest.raises(NetworkDataError, match=message):
        parse_network(data)
