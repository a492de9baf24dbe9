"""Random but well-formed networks, for property tests and the planner's benchmark.

Cities are scattered in a box of latitude/longitude, each joined to its
nearest neighbours by a road a little longer than the straight line, and the
graph is made connected. States are made-up two-letter codes: one per
company, plus one where no company has a station.
"""

from __future__ import annotations

import random
from itertools import pairwise

from servers.world.network import City, Company, Network, Point, Road, Station, great_circle_km

# (power kW, connector): the mix of the real network, plus slow AC points.
POINT_KINDS = ((7.0, "TYPE_2"), (22.0, "TYPE_2"), (50.0, "CCS_2"), (50.0, "CHADEMO"), (150.0, "CCS_2"))


def _state(i: int) -> str:
    return "Z" + "ABCDEFGHIJKLMNOPQRSTUVWXY"[i]


def random_network(rng: random.Random, n_cities: int, n_stations: int, *, n_companies: int = 2,
                   box: tuple[float, float, float, float] = (-9.0, -7.0, -40.0, -38.0),
                   neighbours: int = 3, max_points: int = 4, stationless: bool = True) -> Network:
    """A connected network of `n_cities` cities and `n_stations` stations (box: lat0, lat1, lon0, lon1).

    With `stationless`, every (n_companies + 1)-th city is in a state with no company, so no station.
    """
    if n_cities < 1 or n_companies < 1 or n_companies > 24:
        raise ValueError("need at least one city and 1..24 companies")
    lat0, lat1, lon0, lon1 = box
    cities = tuple(City(f"c{i}", f"City {i}", _state(i % (n_companies + int(stationless))),
                        round(rng.uniform(lat0, lat1), 4), round(rng.uniform(lon0, lon1), 4))
                   for i in range(n_cities))
    pairs: set[tuple[int, int]] = set()
    for i, a in enumerate(cities):
        nearest = sorted(range(n_cities), key=lambda j: great_circle_km(a, cities[j]))
        for j in nearest[1:neighbours + 1]:
            pairs.add((min(i, j), max(i, j)))
    # Join the components, nearest pair first, until one is left (union-find).
    parent = list(range(n_cities))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        parent[find(i)] = find(j)
    if len({find(i) for i in range(n_cities)}) > 1:
        order = sorted((great_circle_km(cities[i], cities[j]), i, j) for i in range(n_cities)
                        for j in range(i + 1, n_cities))
        for _, i, j in order:
            if find(i) != find(j):
                parent[find(i)] = find(j)
                pairs.add((i, j))
    roads = tuple(Road(f"r{i}-{j}", cities[i].id, cities[j].id, "BR-000",
                       round(max(1.0, great_circle_km(cities[i], cities[j]) * rng.uniform(1.05, 1.35)), 1))
                  for i, j in sorted(pairs))
    companies = tuple(Company(f"co{k}", f"Company {k}", _state(k), round(rng.uniform(1.5, 2.5), 2),
                              "#123456", 18900 + k, 8900 + k) for k in range(n_companies))
    with_stations = [c for c in cities if not stationless or c.state != _state(n_companies)]
    stations: list[Station] = []
    for s in range(n_stations if with_stations else 0):
        city = rng.choice(with_stations)
        company = next(co for co in companies if co.state == city.state)
        points = tuple(Point(f"s{s}-p{p}", *rng.choice(POINT_KINDS))  # type: ignore[arg-type]
                       for p in range(1, rng.randint(1, max_points) + 1))
        stations.append(Station(f"s{s}", company.id, city.id, f"Station {s}", points))
    return Network(cities=cities, roads=roads, companies=companies, stations=tuple(stations))


def path_is_connected(network: Network, path: tuple[str, ...]) -> bool:
    """Whether consecutive cities of `path` are joined by roads (or are the same city)."""
    return all(a == b or b in network.neighbours(a) for a, b in pairwise(path))
