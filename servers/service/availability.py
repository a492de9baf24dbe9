"""What a coordinator knows of every company's points before it asks: the planner plans around it.

Three sources, all advisory (a prepare stays the authority):
- its own company: the engine's state, exact;
- other companies: an `OccupancyMirror` each, kept fresh by following their
  occupancy feed; a company whose feed cannot be reached is *unavailable* —
  its stations are planned around, and the answer names it;
- what it just learnt or promised: points other companies refused it
  (their conflicts), and the stops of its own trips still being prepared
  (claims), for a few seconds, until the mirrors catch up.

A station is busy for a stop when none of its points fast enough is, by all of
this, free for the stop's window — then the planner takes another station, or
refuses without sending a single prepare. For a trip that asked at a known
moment, a point held only by undecided trips that asked later counts as free:
the priority rule makes them yield at the prepare.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from servers.bookings.occupancy import OccupancyMirror, free_for
from servers.bookings.windows import PointWindows
from servers.service.engine import Engine
from servers.world.network import Network, Station

_NOTHING: dict[str, PointWindows] = {}
_NOTHING_STATUS: dict[str, str] = {}
_NOTHING_YIELDS: dict[str, float] = {}
LEARNT_FOR_S = 5.0  # how long a refusal's conflicts and a claim count, if the mirror has not caught up


@dataclass
class PeerPicture:
    """What we know of one other company: its mirror, and whether its feed answered last time."""

    mirror: OccupancyMirror = field(default_factory=OccupancyMirror)
    reachable: bool = True


class Availability:
    """The coordinator's picture of every company's points (see the module's docstring)."""

    def __init__(self, engine: Engine, network: Network, company_id: str,
                 monotonic: Callable[[], float]) -> None:
        self.engine = engine
        self.network = network
        self.company_id = company_id
        self.monotonic = monotonic
        self.peers: dict[str, PeerPicture] = {}
        self._learnt: dict[str, PointWindows] = {}  # point -> windows learnt, until they expire
        self._keys: dict[str, list[tuple[str, float, float, str]]] = {}  # trip -> what was learnt of it
        # station -> claim -> (start, end, kW, when its trip asked)
        self._claims: dict[str, dict[int, tuple[float, float, float, float]]] = {}
        self._expiry: list[tuple[float, int, str, float, float, str]] = []  # (when, n, point, start, end, key)
        self._counter = itertools.count()
        self._station_points: dict[str, tuple[tuple[str, float], ...]] = {}

    # -- what followers and prepares report ---------------------------------------------------------
    def peer(self, company: str) -> PeerPicture:
        """The picture of one other company (made on first use)."""
        return self.peers.setdefault(company, PeerPicture())

    def unavailable(self) -> list[str]:
        """Companies whose feed could not be reached the last time it was asked."""
        return sorted(c for c, p in self.peers.items() if not p.reachable)

    def learn(self, point_id: str, start: datetime, end: datetime, key: str) -> None:
        """A window known taken (a refusal's conflict, or a point our own trip reserved), for a while."""
        s, e = start.timestamp(), end.timestamp()
        self._learnt.setdefault(point_id, PointWindows()).add(s, e, key)
        self._keys.setdefault(key.partition("#")[0], []).append((point_id, s, e, key))
        heapq.heappush(self._expiry, (self.monotonic() + LEARNT_FOR_S, next(self._counter), point_id, s, e, key))

    def forget_trip(self, trip_id: str) -> None:
        """Our own trip let its points go (cancelled): what we learnt of it no longer holds."""
        for point, s, e, key in self._keys.pop(trip_id, []):
            self._unlearn(point, s, e, key)

    def _unlearn(self, point: str, s: float, e: float, key: str) -> None:
        windows = self._learnt.get(point)
        if windows is not None:
            windows.remove(s, e, key)
            if not windows.items:
                del self._learnt[point]

    def claim(self, stops: list[tuple[str, datetime, datetime, float]], asked: datetime) -> int:
        """Count these stops (station, start, end, kW) of a trip that asked at `asked` as taken while their
        prepares are out; a token to release."""
        token = next(self._counter)
        when = asked.timestamp()
        for station_id, start, end, power in stops:
            self._claims.setdefault(station_id, {})[token] = (start.timestamp(), end.timestamp(), power, when)
        return token

    def release(self, token: int, stations: list[str]) -> None:
        """The prepares of a claim are answered (what they held is learnt, or the mirror has it)."""
        for station_id in stations:
            claims = self._claims.get(station_id)
            if claims is not None:
                claims.pop(token, None)
                if not claims:
                    del self._claims[station_id]

    def _expire(self) -> None:
        now = self.monotonic()
        while self._expiry and self._expiry[0][0] <= now:
            _, _, point, s, e, key = heapq.heappop(self._expiry)
            self._unlearn(point, s, e, key)
            trip = key.partition("#")[0]
            entries = self._keys.get(trip)
            if entries is not None:
                entries[:] = [x for x in entries if x != (point, s, e, key)]
                if not entries:
                    del self._keys[trip]

    # -- what the planner asks ----------------------------------------------------------------------
    def busy(self, station: Station, power_kw: float, s: float, e: float, asker: float | None = None,
             mine: str | None = None) -> bool:
        """No point of `station` fast enough for `power_kw` is free for [s, e) (epoch seconds), as far as we know,
        for a trip that asked at `asker` (epoch seconds; None: what is held counts as taken, whoever holds it);
        what trip `mine` holds counts as free (a re-booking of that trip: its old stops go when it commits).

        The planner asks this for every station it considers (~160 times a plan): kept to dictionary
        lookups and, only for points with bookings, a bisection.
        """
        if self._expiry and self._expiry[0][0] <= self.monotonic():
            self._expire()
        if station.company_id == self.company_id:
            state = self.engine.state
            windows, status, yieldable = state.windows, state.point_status, state.yieldable
        else:
            peer = self.peers.get(station.company_id)
            if peer is None:
                windows, status, yieldable = _NOTHING, _NOTHING_STATUS, _NOTHING_YIELDS
            elif not peer.reachable:
                return True  # plan around a company that does not answer
            else:
                windows, status, yieldable = peer.mirror.windows, peer.mirror.status, peer.mirror.yieldable
        claims = self._claims.get(station.id)
        # Our own stops still being prepared here take points too: as many as overlap this window (those of
        # trips that asked later would yield to this one).
        claimed = sum(1 for cs, ce, ckw, asked in claims.values()
                      if cs < e and s < ce and ckw + 1e-9 >= power_kw and (asker is None or asked <= asker)) \
            if claims else 0
        learnt = self._learnt
        for point_id, kw in self._points(station):
            if kw + 1e-9 < power_kw:
                break  # fastest first: the rest are slower still
            if point_id in status:
                continue
            if not free_for(windows.get(point_id), yieldable, s, e, asker, mine):
                continue
            known = learnt.get(point_id)
            if known is not None and known.any_overlapping(s, e):
                continue
            if claimed == 0:
                return False
            claimed -= 1
        return True

    def _points(self, station: Station) -> tuple[tuple[str, float], ...]:
        """A station's points with their power, fastest first (cached: the network does not change)."""
        found = self._station_points.get(station.id)
        if found is None:
            found = self._station_points[station.id] = tuple(
                sorted(((p.id, p.power_kw) for p in station.points), key=lambda pk: -pk[1]))
        return found

    def forget_past(self, now: datetime) -> None:
        """Drop windows already over from the mirrors (run now and then)."""
        for peer in self.peers.values():
            peer.mirror.forget_before(now.timestamp())
