"""City names as people type them: "Salvador", "vitória da conquista", "Vitoria-da-Conquista" → a city id.

The network's ids (`vitoria-da-conquista`) are what `GET /api/v1/network` lists; a person types names. Each
is matched, without accents or case, to an id or to a city's name ("Juazeiro" is the city of that name, not
Juazeiro do Norte).
"""

from __future__ import annotations

import re
import unicodedata

from servers.world.network import Network
from servers.world.plans import UnknownCity

WHERE = "city ids and names are listed by GET /api/v1/network (cities[].id, cities[].name)"


def fold(text: str) -> str:
    """Lower case, no accents, words joined by '-': 'Vitória da Conquista' → 'vitoria-da-conquista'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def city_id(network: Network, typed: str) -> str:
    """The id of the city `typed` names (an id or a name); UnknownCity otherwise."""
    if network.has_city(typed):
        return typed
    wanted = fold(typed)
    for city in network.cities:
        if wanted in (fold(city.id), fold(city.name)):
            return city.id
    raise UnknownCity(typed)
