"""Every MQTT topic of the network, built in one place under the versioned root `recarga/v1`.

One company's broker carries only that company's topics, but the company is
still part of each topic so that a bridge or a shared test broker never mixes
them. The broker's ACL (see `mosquitto.acl`) is written from these same shapes.

    recarga/v1/{company}/vehicles/{vehicle_id}/request   vehicle → server (QoS 1)
    recarga/v1/{company}/vehicles/{vehicle_id}/reply     server → vehicle (QoS 1)
    recarga/v1/{company}/signup/{client_id}/request      new vehicle → server (shared signup account)
    recarga/v1/{company}/signup/{client_id}/reply        server → new vehicle
    recarga/v1/{company}/stations/{station_id}/availability  retained, server → everyone
    recarga/v1/{company}/points/{point_id}/status        retained live OCPI status, server → everyone
    recarga/v1/{company}/feed                            booking events for dashboards
    recarga/v1/{company}/status                          retained "online" / "offline" (last will)
"""

from __future__ import annotations

ROOT = "recarga/v1"

#: What the server publishes (retained) on `server_status` while it runs, and its last will.
STATUS_ONLINE = "online"
STATUS_OFFLINE = "offline"

_FORBIDDEN = frozenset("/+#\x00")


def segment(value: str, what: str = "topic segment") -> str:
    """Return `value` if it is safe as one topic level, else raise ValueError.

    A level must be non-empty and free of `/`, `+`, `#` and NUL: any of them
    would let a name reach another vehicle's topic or widen a subscription
    (Mosquitto also refuses `%u`/`%c` ACL substitution for such names).
    """
    if not value or any(ch in _FORBIDDEN for ch in value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def company_root(company: str) -> str:
    """Return `recarga/v1/{company}`, the prefix of every topic of one company."""
    return f"{ROOT}/{segment(company, 'company')}"


def vehicle_request(company: str, vehicle_id: str) -> str:
    """Return the topic a vehicle publishes its requests to."""
    return f"{company_root(company)}/vehicles/{segment(vehicle_id, 'vehicle id')}/request"


def vehicle_reply(company: str, vehicle_id: str) -> str:
    """Return the topic a vehicle reads its replies from."""
    return f"{company_root(company)}/vehicles/{segment(vehicle_id, 'vehicle id')}/reply"


def all_requests(company: str) -> str:
    """Return the filter the server subscribes to for every vehicle's requests."""
    return f"{company_root(company)}/vehicles/+/request"


def signup_request(company: str, client_id: str) -> str:
    """Return the topic a not-yet-registered vehicle publishes its sign-up to (ACL: `%c`)."""
    return f"{company_root(company)}/signup/{segment(client_id, 'client id')}/request"


def signup_reply(company: str, client_id: str) -> str:
    """Return the topic a not-yet-registered vehicle reads its sign-up reply from (ACL: `%c`)."""
    return f"{company_root(company)}/signup/{segment(client_id, 'client id')}/reply"


def all_signup_requests(company: str) -> str:
    """Return the filter the server subscribes to for every sign-up request."""
    return f"{company_root(company)}/signup/+/request"


def station_availability(company: str, station_id: str) -> str:
    """Return the retained topic of one station's live availability."""
    return f"{company_root(company)}/stations/{segment(station_id, 'station id')}/availability"


def all_availability(company: str) -> str:
    """Return the filter for every station's availability of one company."""
    return f"{company_root(company)}/stations/+/availability"


def point_status(company: str, point_id: str) -> str:
    """Return the retained topic of one point's live status (OCPI's names)."""
    return f"{company_root(company)}/points/{segment(point_id, 'point id')}/status"


def all_point_status(company: str) -> str:
    """Return the filter for every point's live status of one company."""
    return f"{company_root(company)}/points/+/status"


def booking_feed(company: str) -> str:
    """Return the topic of the live feed of booking events (for dashboards)."""
    return f"{company_root(company)}/feed"


def server_status(company: str) -> str:
    """Return the retained topic where the server says "online" and its last will says "offline"."""
    return f"{company_root(company)}/status"


def _level(topic: str, kind: str, last: str) -> str:
    """Return the id level of `recarga/v1/{company}/{kind}/{id}/{last}` or raise ValueError."""
    parts = topic.split("/")
    if (
        len(parts) != 6
        or f"{parts[0]}/{parts[1]}" != ROOT
        or parts[3] != kind
        or parts[5] != last
        or not parts[2]
        or not parts[4]
        or any(ch in "+#" for ch in parts[4])
    ):
        raise ValueError(f"not a {kind}/…/{last} topic: {topic!r}")
    return parts[4]


def parse_vehicle_id(topic: str) -> str:
    """Return the vehicle id of a vehicle request topic (the level the ACL bound to the username)."""
    return _level(topic, "vehicles", "request")


def parse_signup_client_id(topic: str) -> str:
    """Return the MQTT client id of a sign-up request topic (the level the ACL bound to `%c`)."""
    return _level(topic, "signup", "request")


def parse_point_id(topic: str) -> str:
    """Return the point id of a point status topic."""
    return _level(topic, "points", "status")


def parse_company(topic: str) -> str:
    """Return the company level of any topic under the root, or raise ValueError."""
    parts = topic.split("/")
    if len(parts) < 3 or f"{parts[0]}/{parts[1]}" != ROOT or not parts[2]:
        raise ValueError(f"not a {ROOT} topic: {topic!r}")
    return parts[2]
