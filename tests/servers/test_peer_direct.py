"""The hot peer routes answered by `PeerAuth` (servers/api/peer_direct.py) give FastAPI's answer, byte for byte.

Two servers of EcoCharge on fresh logs: one behind the app the servers run, where `PeerAuth` answers
`POST /peer/v1/batch` and `GET /peer/v1/occupancy` itself, one behind `create_app(direct_peer_routes=False)`,
where FastAPI does. Every request is signed once and sent to both; the answers must be the same status,
headers and bytes. A spy under `PeerAuth` tells whether FastAPI's stack saw the request, so each test also
says which path answered it — the direct one, or FastAPI's after the direct one handed it on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from events.errors import LogUnavailable
from servers.api import peer_direct
from servers.api.app import create_app
from servers.bootstrap import Server, build_server
from servers.peer_auth import pair_key, sign
from servers.service.engine import LogUnwritable
from servers.settings import Settings

TARGET, CALLER, OTHER = "ecocharge", "voltpoint", "eflux"
SECRETS = {pair_key(a, b): f"secret-of-{pair_key(a, b)}" for a, b in ((TARGET, CALLER), (TARGET, OTHER),
                                                                      (CALLER, OTHER))}
BATCH, OCCUPANCY = "/peer/v1/batch", "/peer/v1/occupancy"
JSON = {"content-type": "application/json"}


class Side:
    """One EcoCharge server behind one app, called in-process on its own event loop."""

    def __init__(self, data_dir: Path, direct: bool) -> None:
        self.loop = asyncio.new_event_loop()
        self.server: Server = build_server(Settings(company=TARGET, data_dir=data_dir, mqtt=False,
                                                    broker_key="test-broker-key-0123", peer_secrets=SECRETS,
                                                    synchronous="NORMAL"))
        self.app = create_app(self.server, direct_peer_routes=direct)
        self.reached_fastapi: list[str] = []
        stack = self.app.build_middleware_stack()  # PeerAuth, around FastAPI's own stack: spy on the latter
        below = stack.app

        async def spy(scope: Any, receive: Any, send: Any) -> None:
            self.reached_fastapi.append(scope["path"])
            await below(scope, receive, send)

        stack.app = spy
        self.app.middleware_stack = stack
        # raise_app_exceptions=False: what a client gets when the app fails (ServerErrorMiddleware re-raises).
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
                                        base_url="http://ecocharge.test")

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, content=body, headers=headers))

    def head(self) -> int:
        return self.server.store.head()

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.server.close())
        self.loop.close()


class Sides:
    """The direct path and FastAPI's, side by side; `send` checks they answer alike."""

    def __init__(self, tmp: Path) -> None:
        self.direct = Side(tmp / "direct", direct=True)
        self.fastapi = Side(tmp / "fastapi", direct=False)

    def send(self, method: str, path: str, body: bytes = b"", *, headers: dict[str, str] | None = None,
             signer: str | None = CALLER, secrets: dict[str, str] = SECRETS, now: float | None = None,
             signed_body: bytes | None = None) -> tuple[httpx.Response, bool]:
        """The one answer of both paths, and whether the direct path answered it itself."""
        sent = dict(headers or {})
        if signer is not None:
            sent.update(sign(secrets, signer, TARGET, method, path, body if signed_body is None else signed_body,
                             now=now))
        seen = len(self.direct.reached_fastapi)
        direct = self.direct.send(method, path, body, sent)
        handed_on = len(self.direct.reached_fastapi) > seen
        fastapi = self.fastapi.send(method, path, body, sent)
        assert (direct.status_code, direct.headers.multi_items(), direct.content) == (
            fastapi.status_code, fastapi.headers.multi_items(), fastapi.content)
        return direct, not handed_on

    def heads(self) -> tuple[int, int]:
        return self.direct.head(), self.fastapi.head()

    def close(self) -> None:
        self.direct.close()
        self.fastapi.close()


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[Sides]:
    both = Sides(tmp_path)
    try:
        yield both
    finally:
        both.close()


def batch(*ops: dict[str, Any]) -> bytes:
    return json.dumps({"ops": list(ops)}).encode()


def prepare(trip_id: str, station_id: str, start: datetime, *, min_power_kw: float = 0,
            coordinator: str = CALLER) -> dict[str, Any]:
    return {"op": "prepare", "args": {
        "trip_id": trip_id, "coordinator": coordinator, "priority": start.isoformat(),
        "stops": [{"stop": 0, "station_id": station_id, "start": start.isoformat(),
                   "end": (start + timedelta(minutes=40)).isoformat(), "min_power_kw": min_power_kw,
                   "energy_kwh": 12.5}]}}


def soon() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)


def test_a_signed_batch_is_decided_by_the_direct_path_with_the_bytes_fastapi_sends(sides):
    station = sides.direct.server.network.stations_of(TARGET)[0]
    fastest = max(p.power_kw for p in station.points)
    start = soon()
    answer, direct = sides.send("POST", BATCH, batch(
        prepare("t-yes", station.id, start),
        prepare("t-no", station.id, start, min_power_kw=fastest + 1),
        prepare("t-theirs", station.id, start, coordinator=OTHER),
        {"op": "commit", "args": {"trip_id": "t-yes"}},
        {"op": "check_in", "args": {"trip_id": "t-yes", "stop": 0, "action": "start"}},
        {"op": "outcome", "args": {"trip_id": "t-nobody"}},
        {"op": "commit", "args": {"trip_id": "t-nobody"}},
        {"op": "release", "args": {"trip_id": "t-nobody", "stops": [0]}},
    ), headers=JSON)
    assert direct and answer.status_code == 200
    results = answer.json()["results"]
    assert [r["ok"] for r in results] == [True, True, False, True, True, True, False, True]
    assert results[0]["result"]["vote"] == "yes" and results[1]["result"]["vote"] == "no"
    assert (results[2]["error"]["code"], results[6]["error"]["status"]) == ("NOT_COORDINATOR", 404)
    assert sides.direct.head() == sides.fastapi.head() > 0  # the same events, written before the answer
    assert sides.direct.server.engine.read(lambda s: s.seq) == sides.direct.head()


def test_what_peers_send_is_answered_by_the_direct_path(sides):
    """The content type the peer client sends (servers/adapters/peer_client.py), the queries `HttpPeer.follow` sends."""
    assert sides.send("POST", BATCH, batch({"op": "outcome", "args": {"trip_id": "t"}}),
                      headers={"Content-Type": "application/json"})[1]
    for query in ("after=-1&wait=0", "after=0&wait=0.05", "after=12&wait=0"):
        answer, direct = sides.send("GET", f"{OCCUPANCY}?{query}")
        assert direct and answer.status_code == 200 and set(answer.json()) >= {"seq", "added", "removed"}, query


VALID = batch({"op": "outcome", "args": {"trip_id": "t-1"}}, {"op": "commit", "args": {"trip_id": "t-2"}})


@pytest.mark.parametrize(("case", "kwargs", "status", "code"), [
    ("unsigned", {"signer": None}, 401, "UNSIGNED"),
    ("forged", {"secrets": {pair_key(TARGET, CALLER): "a guess"}}, 401, "BAD_SIGNATURE"),
    ("signed for another body", {"signed_body": b"{}"}, 401, "BAD_SIGNATURE"),
    ("expired", {"now": time.time() - 120}, 401, "STALE_SIGNATURE"),
    ("from a company nobody knows", {"signer": "nobody", "secrets": {pair_key(TARGET, "nobody"): "x"}},
     401, "UNKNOWN_PEER"),
    ("from itself", {"signer": TARGET, "secrets": {pair_key(TARGET, TARGET): "x"}}, 401, "UNKNOWN_PEER"),
])
def test_a_batch_not_signed_right_is_refused_before_anything_is_read(sides, case, kwargs, status, code):
    answer, direct = sides.send("POST", BATCH, VALID, headers=JSON, **kwargs)
    assert (answer.status_code, answer.json()["code"]) == (status, code), case
    assert direct and sides.heads() == (0, 0)


def test_a_replayed_batch_is_refused_by_both_paths(sides):
    headers = {**JSON, **sign(SECRETS, CALLER, TARGET, "POST", BATCH, VALID)}
    assert sides.send("POST", BATCH, VALID, headers=headers, signer=None)[0].status_code == 200
    answer, direct = sides.send("POST", BATCH, VALID, headers=headers, signer=None)
    assert direct and (answer.status_code, answer.json()["code"]) == (401, "REPLAYED")


TOO_MANY = batch(*[{"op": "outcome", "args": {"trip_id": f"t-{i}"}} for i in range(501)])


@pytest.mark.parametrize(("case", "body", "headers", "status"), [
    ("malformed JSON", b'{"ops": [', JSON, 422),
    ("trailing bytes", VALID + b" x", JSON, 422),
    ("not an object", b"[]", JSON, 422),
    ("no operations", batch(), JSON, 422),
    ("501 operations", TOO_MANY, JSON, 422),
    ("an unknown operation", batch({"op": "steal", "args": {}}), JSON, 422),
    ("an unknown field", batch({"op": "commit", "args": {"trip_id": "t", "why": "x"}}), JSON, 422),
    ("a missing field", batch({"op": "commit", "args": {}}), JSON, 422),
    ("a number JSON cannot say", b'{"ops": [{"op": "release", "args": {"trip_id": "t", "stops": [NaN]}}]}',
     JSON, 422),
    ("an empty body", b"", JSON, 422),
    ("no content type", VALID, {}, 422),
    ("text", VALID, {"content-type": "text/plain"}, 422),
    ("not UTF-8", b'{"ops": [{"op": "commit", "args": {"trip_id": "\xff"}}]}', JSON, 400),
    # Valid all the same, in spellings the direct path leaves to FastAPI (which decides them).
    ("a byte-order mark", b"\xef\xbb\xbf" + VALID, JSON, 200),
    ("UTF-16", VALID.decode().encode("utf-16"), JSON, 200),
    ("a +json content type", VALID, {"content-type": "application/vnd.recarga+json"}, 200),
])
def test_a_body_the_direct_path_does_not_take_gets_fastapis_answer(sides, case, body, headers, status):
    answer, direct = sides.send("POST", BATCH, body, headers=headers)
    assert not direct, f"{case}: answered by the direct path"
    assert answer.status_code == status, (case, answer.text)
    assert answer.json()["code"] if status >= 400 else len(answer.json()["results"]) == 2
    assert sides.heads() == (0, 0)


def test_a_refused_occupancy_query_gets_fastapis_answer(sides):
    for query in ("after=-1&wait=99", "after=-2&wait=0", "wait=0&after=-1", "after=-1&wait=10.5", "after=01&wait=0",
                  "after=-1", "", "after=-1&wait=0&x=1", "after=1e1&wait=0"):
        answer, direct = sides.send("GET", f"{OCCUPANCY}?{query}" if query else OCCUPANCY)
        assert not direct and answer.status_code in (200, 422), (query, answer.text)
    answer, direct = sides.send("GET", f"{OCCUPANCY}?after=-1&wait=0", signer=None)
    assert direct and (answer.status_code, answer.json()["code"]) == (401, "UNSIGNED")


@pytest.mark.parametrize("query", ["after=-1&wait=0", "after=0&wait=10", "after=123456789&wait=2.5",
                                   "after=7&wait=0.000001", "after=-1&wait=10.0"])
def test_the_occupancy_queries_the_direct_path_takes_read_as_fastapi_reads_them(query):
    after, wait = peer_direct.parse_occupancy({"query_string": query.encode()})  # type: ignore[misc]
    fields = dict(pair.split("=") for pair in query.split("&"))
    assert (after, wait) == (int(fields["after"]), float(fields["wait"]))


@pytest.mark.parametrize(("failure", "status", "code"), [
    (LogUnwritable("the disk is full"), 503, "LOG_UNWRITABLE"),
    (LogUnavailable("postgresql://db", "the server closed the connection"), 503, "LOG_UNAVAILABLE"),
    (RuntimeError("a bug"), 500, "INTERNAL"),
])
def test_a_batch_whose_write_fails_gets_the_error_reply_of_the_app(sides, monkeypatch, failure, status, code):
    async def fails() -> None:
        raise failure

    for side in (sides.direct, sides.fastapi):
        monkeypatch.setattr(side.server.engine, "durable", fails)
    station = sides.direct.server.network.stations_of(TARGET)[0]
    answer, direct = sides.send("POST", BATCH, batch(prepare("t-lost", station.id, soon())), headers=JSON)
    assert direct and (answer.status_code, answer.json()["code"]) == (status, code)
    assert set(answer.json()) == {"code", "message", "details"}


@pytest.mark.parametrize("path", [BATCH, "/peer/v1/commit"])
def test_a_crash_while_checking_the_signature_is_a_500_internal_not_a_dropped_connection(sides, monkeypatch, path):
    def crashes(*_: object, **__: object) -> str:
        raise RuntimeError("a bug in the verifier")

    for side in (sides.direct, sides.fastapi):
        monkeypatch.setattr(side.server.verifier, "verify", crashes)
    answer, _ = sides.send("POST", path, json.dumps({"trip_id": "t"}).encode(), headers=JSON)
    assert (answer.status_code, answer.json()) == (500, {"code": "INTERNAL", "message": "unexpected server error",
                                                         "details": {}})


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sides]:
    both = Sides(tmp_path_factory.mktemp("shared"))
    try:
        yield both
    finally:
        both.close()


ANY = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=70),
                st.sampled_from(["", " t ", "2026-12-24T10:00:00", "2026-12-24T10:00:00-03:00", "start", "BROKEN",
                                 "MOVED", "BROKEN_CHARGER", "commit"]),
                st.lists(st.integers(-1, 101), max_size=3))
FIELDS = st.sampled_from(["trip_id", "coordinator", "priority", "stops", "stop", "station_id", "start", "end",
                          "min_power_kw", "energy_kwh", "reason", "asked_by", "point_id", "action", "hold_id",
                          "kind", "from_point_id", "op", "args", "extra"])


@st.composite
def ops(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed operation of any kind, then up to three of its fields set to anything or dropped."""
    n = draw(st.integers(0, 10**6))
    when = (datetime(2026, 12, 24, 10, tzinfo=UTC) + timedelta(minutes=15 * n)).isoformat()
    op = draw(st.sampled_from([
        {"op": "prepare", "args": {"trip_id": f"t{n}", "coordinator": CALLER, "priority": when, "stops": [
            {"stop": 0, "station_id": "ec-recife-1", "start": when, "end": when, "min_power_kw": 0,
             "energy_kwh": 1}]}},
        *({"op": d, "args": {"trip_id": f"t{n}", "reason": "r", "stops": [0]}} for d in ("commit", "abort", "release")),
        {"op": "outcome", "args": {"trip_id": f"t{n}", "asked_by": "t0", "point_id": "p"}},
        {"op": "check_in", "args": {"trip_id": f"t{n}", "stop": 0, "action": "start", "energy_kwh": 1}},
        {"op": "notice", "args": {"trip_id": f"t{n}", "hold_id": "h", "stop": 0, "kind": "MOVED", "point_id": "p",
                                  "reason": "BROKEN_CHARGER"}},
    ]))
    op = json.loads(json.dumps(op))
    for _ in range(draw(st.integers(0, 3))):
        places = [op]  # the objects still there to spoil: the operation, its args, a prepare's first stop
        if isinstance(op.get("args"), dict):
            places.append(op["args"])
            stops = op["args"].get("stops")
            if isinstance(stops, list) and stops and isinstance(stops[0], dict):
                places.append(stops[0])
        where = draw(st.sampled_from(places))
        key = draw(FIELDS)
        if draw(st.integers(0, 4)) == 0:
            where.pop(key, None)
        else:
            where[key] = draw(ANY)
    return op


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(operations=st.lists(ops(), min_size=1, max_size=4), spelling=st.sampled_from(["json", "nan", "spaces"]))
def test_random_batches_get_the_same_answer_from_both_paths(shared, operations, spelling):
    body = json.dumps({"ops": operations}, indent=2 if spelling == "spaces" else None).encode()
    if spelling == "nan":
        body = body.replace(b"1,", b"NaN,", 1)
    answer, direct = shared.send("POST", BATCH, body, headers=JSON)  # asserts both answers are the same bytes
    assert shared.direct.head() == shared.fastapi.head()
    event(f"{answer.status_code} from {'the direct path' if direct else 'FastAPI'}")  # --hypothesis-show-statistics
