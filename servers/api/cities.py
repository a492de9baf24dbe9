"""City names as people type them, at the REST edge: "Salvador", "vitória da conquista", "Vitoria-da-Conquista".

The API's city fields take ids (`vitoria-da-conquista`), as `GET /api/v1/network` lists them. A person in
Postman types names: each is matched, without accents or case, to an id or to a city's name ("Juazeiro" is
the city of that name, not Juazeiro do Norte). A name that matches no city is refused here with
UNKNOWN_CITY, saying where the ids are listed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

from servers.contract.models import TripIn
from servers.core.network import Network
from servers.domain.errors import DomainError

T = TypeVar("T", bound=TripIn)
WHERE = "city ids and names are listed by GET /api/v1/network (cities[].id, cities[].name)"


def fold(text: str) -> str:
    """Lower case, no accents, words joined by '-': 'Vitória da Conquista' → 'vitoria-da-conquista'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def city_id(network: Network, typed: str) -> str:
    """The id of the city `typed` names (an id or a name); UNKNOWN_CITY otherwise."""
    if network.has_city(typed):
        return typed
    wanted = fold(typed)
    for city in network.cities:
        if wanted in (fold(city.id), fold(city.name)):
            return city.id
    raise DomainError(f"unknown city {typed!r}: {WHERE}", code="UNKNOWN_CITY", details={"city": typed})


def with_city_ids(network: Network, trip: T) -> T:
    """The trip with its origin and destination as city ids."""
    return trip.model_copy(update={"origin": city_id(network, trip.origin),
                                   "destination": city_id(network, trip.destination)})
