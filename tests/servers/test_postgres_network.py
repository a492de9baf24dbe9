"""A real network where one company (VoltPoint, the coordinator here) keeps its log in PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from events.fold import replay
from events.location import open_store
from federation.launcher import LocalNetwork
from servers.bookings.state import FOLD
from servers.service import views
from tests.live import Api, LiveNetworks, departure
from tests.postgres import PostgresCluster

pytestmark = pytest.mark.integration
HOME = "voltpoint"
ROUTES = [("salvador", "fortaleza"), ("feira-de-santana", "fortaleza"), ("salvador", "sobral")]


def digest(net: LocalNetwork, cid: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(net.companies[cid].api_url + "/api/v1/log/digest", timeout=10).json()
    return body


def test_a_company_on_postgresql_books_a_three_company_trip_and_replays_to_the_same_state(
        live_network: LiveNetworks, postgres: PostgresCluster):
    url = postgres.fresh_database(HOME)
    with live_network("on-postgresql", mqtt=False, log_urls={HOME: url}) as net:
        api = Api(net.companies[HOME].api_url, form_seed=4242)
        booked = next((r for origin, destination in ROUTES
                       if (r := api.book(origin, destination, departure(hours=8))).status_code == 201
                       and len({s["company_id"] for s in r.json()["stops"]}) == 3), None)
        assert booked is not None, "no trip stopping at all three companies could be booked"
        assert booked.json()["status"] == "RESERVED"
        violations, _ = net.settle(timeout=20)
        assert violations == []  # the checker read VoltPoint's log from PostgreSQL, the others from files

        before = digest(net, HOME)
        with open_store(url, create=False) as store:
            assert store.get_meta("company") == HOME
            state, seq = replay(store, FOLD, until_seq=int(str(before["seq"])))
        assert (seq, views.digest(state)) == (before["seq"], before["digest"])

        # The database goes away (no connections allowed, sessions cut): reads answer 503, and come back with it.
        events_url = net.companies[HOME].api_url + "/api/v1/events?limit=1"
        postgres.sql(f"ALTER DATABASE {HOME} ALLOW_CONNECTIONS false")
        postgres.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{HOME}'")
        down = httpx.get(events_url, timeout=30)
        assert (down.status_code, down.json()["code"]) == (503, "LOG_UNAVAILABLE"), down.text
        refused = api.book(*ROUTES[0], departure(hours=14))
        assert (refused.status_code, refused.json()["code"]) == (503, "LOG_UNAVAILABLE"), refused.text
        postgres.sql(f"ALTER DATABASE {HOME} ALLOW_CONNECTIONS true")
        assert httpx.get(events_url, timeout=30).status_code == 200
        back = api.book(*ROUTES[0], departure(hours=16))  # no restart: the sessions were opened again
        assert back.status_code in (201, 409), back.text

        assert net.settle(timeout=20)[0] == []  # phase two of that booking has landed: nothing in flight
        before = digest(net, HOME)
        net.kill_server(HOME)  # SIGKILL: whatever it had, only PostgreSQL kept
        net.start_server(HOME)
        assert digest(net, HOME) == before
        again = api.book(*ROUTES[0], departure(hours=20))
        assert again.status_code in (201, 409), again.text  # it serves again, from the replayed state

        assert net.settle(timeout=20)[0] == []
        files = [str(net.log_path(c)) for c in net.companies if c != HOME]
        check = subprocess.run([sys.executable, "-m", "federation", "check", url, *files, "--converged"],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and check.stdout.strip().endswith("of 3 log(s)"), check.stdout + check.stderr
