"""A bounded memory of solved planning problems, so that the same road asked again is nearly free.

What is kept and how it is used is the planner's business (`servers.world.planner`): this is the container —
least recently used first out, bound to one network, counting what it saves. A server makes one (its
`TripPlanner`) and hands it to every `plan_trip` call; nothing here is shared between processes or made at
import time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servers.world.network import Network

DEFAULT_SIZE = 1024


@dataclass
class CacheStats:
    """What the cache did: problems answered from it, solved anew, and answers it had that no longer fit."""

    hits: int = 0  # answered from the cache: its plan re-timed (every stop still free), or its refusal
    misses: int = 0  # not in the cache: searched (the second time a problem is asked, its untimed one as well)
    stale: int = 0  # the kept (or just solved) plan has a stop taken at these times: the full search


class PlanCache:
    """Solved problems by key, at most `size` of them, for one network (another network empties it).

    `admit` says whether a problem is worth keeping: the second time it is asked. The planner asks it when keeping
    costs a search of its own (the untimed one, for a request around taken points): a problem asked once — a
    retry around the points one refusal named — would otherwise cost a second search for nothing.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self.stats = CacheStats()
        self._network: Network | None = None
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._seen: OrderedDict[Hashable, object] = OrderedDict()  # asked once, not (yet) kept

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, network: Network, key: Hashable) -> object | None:
        """What was kept for `key` on this network, or None."""
        if network is not self._network:
            return None
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def admit(self, network: Network, key: Hashable) -> bool:
        """Whether `key` is worth keeping: True the second time it is asked (then `put` it), False the first."""
        self._bind(network)
        if key in self._seen:
            del self._seen[key]
            return True
        self._seen[key] = True
        _trim(self._seen, self.size)
        return False

    def put(self, network: Network, key: Hashable, value: object) -> None:
        """Keep `value` for `key`, forgetting the least recently used beyond `size`."""
        self._bind(network)
        self._entries[key] = value
        self._entries.move_to_end(key)
        _trim(self._entries, self.size)

    def clear(self) -> None:
        """Forget everything kept (the counts stay)."""
        self._entries.clear()
        self._seen.clear()

    def _bind(self, network: Network) -> None:
        # Keys name cities, stations and points by id; on another network the same ids may mean other things.
        if network is not self._network:
            self.clear()
            self._network = network


def _trim(entries: OrderedDict[Hashable, object], size: int) -> None:
    while len(entries) > size:
        entries.popitem(last=False)
