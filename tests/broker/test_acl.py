"""ACL: a vehicle reaches only its own request and reply topics; service accounts only their company's."""

from __future__ import annotations

from typing import Any

import pytest

from contract import topics
from tests.broker.broker_helpers import Broker


@pytest.fixture
def broker(login_broker: Broker) -> Broker:
    """Every test here runs with the vehicles in the password file, then in the dynamic-security plugin."""
    return login_broker


def test_a_vehicle_never_receives_another_vehicles_reply(broker: Broker, probe: Any) -> None:
    c = broker.company
    a, b, server = probe("veh-a"), probe("veh-b"), probe("server")
    a.subscribe(topics.vehicle_reply(c, "veh-b"))  # accepted by the broker, but must stay silent
    a.subscribe(topics.vehicle_reply(c, "veh-a"))
    b.subscribe(topics.vehicle_reply(c, "veh-b"))

    server.publish(topics.vehicle_reply(c, "veh-b"), b"for b only")
    server.publish(topics.vehicle_reply(c, "veh-a"), b"for a")

    # Same publisher, so the broker routes in order: when A has its own reply it would have had B's.
    assert a.until(topics.vehicle_reply(c, "veh-a"), b"for a") == []
    assert b.until(topics.vehicle_reply(c, "veh-b"), b"for b only") == []


def test_a_wildcard_subscription_gets_only_the_vehicles_own_replies(broker: Broker, probe: Any) -> None:
    c = broker.company
    a, server = probe("veh-a"), probe("server")
    a.subscribe(f"{topics.company_root(c)}/#")
    server.publish(topics.vehicle_reply(c, "veh-b"), b"for b")
    server.publish(topics.booking_feed(c), b"feed is for dashboards")
    server.publish(topics.vehicle_reply(c, "veh-a"), b"for a")
    assert a.until(topics.vehicle_reply(c, "veh-a"), b"for a") == []


def test_a_vehicle_cannot_publish_on_another_vehicles_request_topic(broker: Broker, probe: Any) -> None:
    c = broker.company
    a, server = probe("veh-a"), probe("server")
    server.subscribe(topics.all_requests(c))

    a.publish(topics.vehicle_request(c, "veh-b"), b"forged as b")
    a.publish(topics.vehicle_request(c, "veh-a"), b"honest")

    assert server.until(topics.vehicle_request(c, "veh-a"), b"honest") == []


def test_a_vehicle_cannot_publish_availability_or_replies(broker: Broker, probe: Any) -> None:
    c = broker.company
    a, dashboard = probe("veh-a"), probe("dashboard")
    dashboard.subscribe(topics.all_availability(c))
    dashboard.subscribe(topics.server_status(c))
    a.publish(topics.station_availability(c, "st-1"), b"fake: all free")
    a.publish(topics.server_status(c), b"offline")
    server = probe("server")
    server.publish(topics.station_availability(c, "st-1"), b"real")
    assert dashboard.until(topics.station_availability(c, "st-1"), b"real") == []


def test_the_dashboard_reads_public_topics_and_cannot_write(broker: Broker, probe: Any) -> None:
    c = broker.company
    dashboard, server = probe("dashboard"), probe("server")
    server.publish(topics.station_availability(c, "st-9"), b'{"free": 2}', retain=True)
    server.subscribe(topics.booking_feed(c))
    dashboard.subscribe(topics.all_availability(c))
    dashboard.subscribe(topics.booking_feed(c))
    assert dashboard.until(topics.station_availability(c, "st-9"), b'{"free": 2}') == []

    dashboard.publish(topics.booking_feed(c), b"forged event")
    server.publish(topics.booking_feed(c), b"real event")
    assert server.until(topics.booking_feed(c), b"real event") == []
    assert dashboard.until(topics.booking_feed(c), b"real event") == []


def test_vehicles_read_retained_availability_and_status(broker: Broker, probe: Any) -> None:
    c = broker.company
    server = probe("server")
    server.publish(topics.server_status(c), b"online", retain=True)
    server.publish(topics.station_availability(c, "st-1"), b"2 free", retain=True)
    a = probe("veh-a")
    a.subscribe(topics.all_availability(c))
    a.subscribe(topics.server_status(c))
    received = {a.messages.get(timeout=10), a.messages.get(timeout=10)}
    expected = {(topics.server_status(c), b"online"), (topics.station_availability(c, "st-1"), b"2 free")}
    assert received == expected


def test_point_status_is_read_by_vehicles_and_dashboards_and_written_only_by_the_server(broker: Broker,
                                                                                       probe: Any) -> None:
    c = broker.company
    topic = topics.point_status(c, "p-1")
    server = probe("server")
    server.publish(topic, b'{"status": "OUTOFORDER"}', retain=True)
    a, dashboard = probe("veh-a"), probe("dashboard")
    a.subscribe(topics.all_point_status(c))
    dashboard.subscribe(topics.all_point_status(c))
    assert a.until(topic, b'{"status": "OUTOFORDER"}') == []  # the retained message, to a new subscriber
    assert dashboard.until(topic, b'{"status": "OUTOFORDER"}') == []
    a.publish(topic, b'{"status": "AVAILABLE"}')  # forged: dropped
    dashboard.publish(topic, b'{"status": "AVAILABLE"}')
    server.publish(topic, b'{"status": "CHARGING"}', retain=True)
    assert dashboard.until(topic, b'{"status": "CHARGING"}') == []  # in order: nothing forged before it
    assert a.until(topic, b'{"status": "CHARGING"}') == []


def test_the_signup_account_reaches_only_the_topics_of_its_own_client_id(broker: Broker, probe: Any) -> None:
    c = broker.company
    server = probe("server")
    server.subscribe(topics.all_signup_requests(c))
    server.subscribe(topics.all_requests(c))
    newcomer = probe("signup")
    mine = newcomer.client._client_id.decode()
    newcomer.subscribe(topics.signup_reply(c, "someone-else"))
    newcomer.subscribe(topics.signup_reply(c, mine))

    newcomer.publish(topics.signup_request(c, "someone-else"), b"forged")
    newcomer.publish(topics.vehicle_request(c, "veh-a"), b"forged as a vehicle")
    newcomer.publish(topics.signup_request(c, mine), b"sign me up")
    assert server.until(topics.signup_request(c, mine), b"sign me up") == []

    server.publish(topics.signup_reply(c, "someone-else"), b"not yours")
    server.publish(topics.signup_reply(c, mine), b"your login")
    assert newcomer.until(topics.signup_reply(c, mine), b"your login") == []
