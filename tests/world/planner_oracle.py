"""A brute-force trip planner, slow and obviously right, to check the real one against.

It tries every sequence of stations (up to `max_stops`; a station may come again, not twice in a row), drives the
shortest road between consecutive stops, and finds the best charge at each
stop by enumerating the vertices of the small linear program below: for
cumulative charges E_1 <= … <= E_r after each stop,
    arrive at every next node at or above the reserve:  E_j >= R + c·D_{j+1} − s0
    leave every stop at or below capacity:              E_j <= C + c·D_j − s0
and minimise Σ (E_j − E_{j−1}) / p_j. A vertex of this LP has every E_j equal
to 0 or to one of the bounds, so trying those values for each E_j is exact.
It shares nothing with the planner but the network's shortest road distances.
"""

from __future__ import annotations

import math
from itertools import pairwise, product

from servers.world.network import Network, Station
from servers.world.planner import NO_EXCLUSIONS, Exclusions
from servers.world.vehicles import Vehicle


def usable_stations(network: Network, vehicle: Vehicle, exclude: Exclusions) -> list[tuple[Station, float]]:
    """Every station not excluded with a point left, and the power this car draws there."""
    found = []
    for s in network.stations:
        if s.id in exclude.stations:
            continue
        powers = [vehicle.charge_power_kw(p.power_kw, p.is_ac) for p in s.points if p.id not in exclude.points]
        if powers:
            found.append((s, max(powers)))
    return found


def best_minutes(network: Network, origin: str, destination: str, vehicle: Vehicle, *,
                 speed_kmh: float = 80.0, exclude: Exclusions = NO_EXCLUSIONS,
                 max_stops: int = 5) -> float | None:
    """The least driving + charging minutes of any drivable plan, or None when there is none."""
    if origin == destination:
        return 0.0
    c, cap, reserve, s0 = (vehicle.effective_consumption, vehicle.capacity_kwh, vehicle.reserve_kwh,
                           vehicle.charge_kwh)
    km_per_min = speed_kmh * vehicle.profile.speed_factor / 60.0
    stations = usable_stations(network, vehicle, exclude)
    best = math.inf
    for r in range(max_stops + 1 if stations else 1):
        # Any sequence, a station again included (charging a little at a slow one, filling at a fast
        # one nearby and coming back can win), but never the same station twice in a row.
        for seq in product(stations, repeat=r):
            if any(a[0].id == b[0].id for a, b in pairwise(seq)):
                continue
            nodes = [origin, *(s.city_id for s, _ in seq), destination]
            dist = [network.shortest_km(a).get(b, math.inf) for a, b in pairwise(nodes)]
            if math.inf in dist:
                continue
            at = [0.0]  # D_j: km from the origin to node j
            for d in dist:
                at.append(at[-1] + d)
            low = [reserve + c * at[j + 1] - s0 for j in range(r + 1)]  # E_j >= low[j]
            high = [math.inf] + [cap + c * at[j] - s0 for j in range(1, r + 1)]  # E_j <= high[j]
            if low[0] > 1e-9:
                continue  # the first leg, on the charge the car has, ends below the reserve
            values = sorted({0.0, *low, *high[1:]})
            powers = [p for _, p in seq]
            charge = _cheapest(values, low, high, powers, 1, 0.0)
            if charge is not None:
                best = min(best, at[-1] / km_per_min + charge)
    return None if best == math.inf else best


def _cheapest(values: list[float], low: list[float], high: list[float], powers: list[float], j: int,
              before: float) -> float | None:
    """Least charging minutes for stops j… given the cumulative charge `before` them."""
    if j > len(powers):
        return 0.0
    best: float | None = None
    for e in values:
        if e < before - 1e-9 or e < low[j] - 1e-9 or e > high[j] + 1e-9:
            continue
        rest = _cheapest(values, low, high, powers, j + 1, max(e, before))
        if rest is not None:
            total = 60.0 * max(0.0, e - before) / powers[j - 1] + rest
            best = total if best is None else min(best, total)
    return best
