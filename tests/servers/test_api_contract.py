"""Typed replies, held against a live network: every route answers, success or error, in the shape its OpenAPI
declares — and the pydantic model behind it accepts the same body.

One scenario (module fixture) walks every public and peer route of a live three-company network (no MQTT) and
records each exchange: sign-up, login, plans, bookings confirmed and refused, check-ins, cancels, the operator's
routes, the log's routes, and every peer operation, one at a time and in a batch. The tests then read the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from contract.models import BookingRefusedOut, ErrorOut
from federation.launcher import LocalNetwork
from servers.api import peer, public
from servers.peer_auth import sign
from tests.live import LiveNetworks, signup_form

DOCS_OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"

pytestmark = pytest.mark.integration
HOME, TARGET = "voltpoint", "ecocharge"  # public routes at HOME; peer routes at TARGET, signed as HOME
ROUTE = {"origin": "salvador", "destination": "fortaleza"}


@dataclass
class Exchange:
    """One request and its answer, with the OpenAPI operation it hit."""

    method: str
    route: str  # the OpenAPI path template, e.g. /api/v1/trips/{trip_id}
    status: int
    body: Any


class Recorder:
    """An HTTP client to one server that keeps every exchange, signing `/peer/` requests as `HOME`."""

    def __init__(self, net: LocalNetwork, company: str, routes: list[str], log: list[Exchange]) -> None:
        self.http = httpx.Client(base_url=net.companies[company].api_url, timeout=30)
        self.company = company
        self.secrets = json.loads((net.run_dir / "peer-secrets.json").read_text())
        self.patterns = [(r, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", r) + "$")) for r in routes]
        self.log = log

    def __call__(self, method: str, path: str, body: Any = None, *, signed: bool = True,
                 headers: dict[str, str] | None = None, expect: int | None = None) -> Any:
        content = orjson.dumps(body) if body is not None else b""
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if content else {})}
        if path.startswith("/peer/") and signed:
            sent.update(sign(self.secrets, HOME, self.company, method, path, content))
        r = self.http.request(method, path, content=content or None, headers=sent)
        route = next(r_ for r_, pattern in self.patterns if pattern.match(path.split("?")[0]))
        self.log.append(Exchange(method, route, r.status_code, r.json()))
        if expect is not None:
            assert r.status_code == expect, (method, path, r.status_code, r.text[:500])
        return r.json()


def soon(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("contract", mqtt=False) as network:
        yield network


@pytest.fixture(scope="module")
def spec(net: LocalNetwork) -> dict[str, Any]:
    """The OpenAPI document the live server serves."""
    return httpx.get(net.companies[HOME].api_url + "/openapi.json").json()


@pytest.fixture(scope="module")
def exchanges(net: LocalNetwork, spec: dict[str, Any]) -> list[Exchange]:
    log: list[Exchange] = []
    api = Recorder(net, HOME, list(spec["paths"]), log)
    _public(net, api)
    _peer(net, Recorder(net, TARGET, list(spec["paths"]), log))
    return log


def _public(net: LocalNetwork, api: Recorder) -> None:
    api("GET", "/api/v1/health", expect=200)
    api("GET", "/api/v1/network", expect=200)
    station = api("GET", "/api/v1/stations?hours=2", expect=200)[0]["station_id"]
    api("GET", f"/api/v1/stations/{station}/availability?hours=2", expect=200)
    api("GET", "/api/v1/stations/nowhere/availability", expect=404)
    api("GET", "/api/v1/stations?hours=0", expect=422)
    api("GET", "/api/v1/signup/fake?seed=7", expect=200)
    api("POST", "/api/v1/plan", {**ROUTE, "capacity_kwh": 60, "charge_kwh": 54, "alternatives": 2}, expect=200)
    api("POST", "/api/v1/plan", {"origin": "atlantida", "destination": "recife"}, expect=400)
    api("POST", "/api/v1/plan", {"origin": "salvador"}, expect=422)

    form = signup_form(4242)
    session = api("POST", "/api/v1/accounts", form, expect=201)
    api("POST", "/api/v1/accounts", form, expect=409)
    api("POST", "/api/v1/accounts", {**signup_form(4243), "cpf": "111.111.111-11"}, expect=400)
    api("POST", "/api/v1/sessions", {"login": form["email"], "password": form["password"]}, expect=200)
    api("POST", "/api/v1/sessions", {"login": form["email"], "password": "not-it"}, expect=401)
    me = {"Authorization": "Bearer " + session["token"]}
    api("GET", "/api/v1/me", expect=401)
    api("POST", "/api/v1/me/credit", {"amount": 100}, headers={**me, "Idempotency-Key": "credit-1"}, expect=200)

    first = api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(10)}, headers=me, expect=201)
    second = api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(60)}, headers=me, expect=201)
    api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(11)}, headers=me, expect=409)  # TRIP_OVERLAPS
    api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(-1)}, headers=me, expect=422)
    api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(200)}, headers={**me, "Idempotency-Key": "credit-1"},
        expect=409)  # REQUEST_ID_REUSED
    poor = api("POST", "/api/v1/accounts", signup_form(4244, credit=0), expect=201)
    api("POST", "/api/v1/trips", {**ROUTE, "departure": soon(120)},
        headers={"Authorization": "Bearer " + poor["token"]}, expect=409)  # INSUFFICIENT_CREDIT
    api("GET", "/api/v1/trips", headers=me, expect=200)
    api("GET", f"/api/v1/trips/{first['trip_id']}", headers=me, expect=200)
    api("GET", "/api/v1/trips/t-nobody-knows", headers=me, expect=404)
    api("GET", "/api/v1/reservations", headers=me, expect=200)

    check_in = f"/api/v1/trips/{first['trip_id']}/check-in"
    for action in ("start", "finish", "finish"):  # the second finish answers what the first recorded
        api("POST", check_in, {"trip_id": first["trip_id"], "stop": 0, "action": action}, headers=me, expect=200)
    api("POST", check_in, {"trip_id": second["trip_id"], "stop": 0, "action": "start"}, headers=me, expect=400)
    api("POST", f"/api/v1/trips/{first['trip_id']}/cancel", headers=me, expect=409)  # TRIP_STARTED
    api("POST", f"/api/v1/trips/{second['trip_id']}/cancel", headers=me, expect=200)
    api("GET", "/api/v1/me", headers=me, expect=200)  # a credit, two debits, a charge record and a refund

    operator = {"X-Operator-Token": json.loads((net.run_dir / "service-logins.json").read_text())[HOME]["operator"]}
    point = f"/api/v1/points/{net.network.stations_of(HOME)[-1].points[0].id}/status"
    api("PUT", point, {"status": "OUT_OF_ORDER", "reason": "cable cut"}, headers=operator, expect=200)
    api("GET", point, expect=200)
    api("GET", "/api/v1/points/status", expect=200)
    api("GET", "/api/v1/points/no-such-point/status", expect=404)
    api("PUT", point, {"status": "AVAILABLE"}, headers=operator, expect=200)
    api("PUT", point, {"status": "AVAILABLE"}, headers={"X-Operator-Token": "guess"}, expect=401)
    api("PUT", "/api/v1/points/no-such-point/status", {"status": "AVAILABLE"}, headers=operator, expect=404)
    api("POST", f"/api/v1/vehicles/{poor['vehicle_id']}/revoke", headers=operator, expect=200)
    api("POST", "/api/v1/vehicles/v-nobody/revoke", headers=operator, expect=404)

    api("GET", "/api/v1/events?limit=1000", expect=200)
    api("GET", "/api/v1/events?type=TripCommitted", expect=200)
    api("GET", "/api/v1/stats", expect=200)
    api("GET", "/api/v1/company/figures", expect=200)
    api("GET", "/api/v1/log/state", expect=200)
    api("GET", "/api/v1/log/state?at=3", expect=200)
    api("GET", "/api/v1/log/digest", expect=200)
    api("GET", "/api/v1/log/verify", expect=200)


def _peer(net: LocalNetwork, peer: Recorder) -> None:
    station = net.network.stations_of(TARGET)[0]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    window = {"start": start.isoformat(), "end": (start + timedelta(minutes=40)).isoformat()}

    def prepare(trip_id: str, min_power_kw: float = 0, coordinator: str = HOME) -> dict[str, Any]:
        return {"trip_id": trip_id, "coordinator": coordinator, "priority": start.isoformat(),
                "stops": [{"stop": 0, "station_id": station.id, **window, "min_power_kw": min_power_kw,
                           "energy_kwh": 12.5}]}

    fastest = max(p.power_kw for p in station.points)
    assert peer("POST", "/peer/v1/prepare", prepare("tc-one"), expect=200)["vote"] == "yes"
    # Every point that fast is taken (all but the one just held are out of reach at more than the fastest kW).
    refused = peer("POST", "/peer/v1/prepare", prepare("tc-two", min_power_kw=fastest + 1), expect=200)
    assert refused["vote"] == "no"
    peer("POST", "/peer/v1/prepare", prepare("tc-three", coordinator="eflux"), expect=400)  # NOT_COORDINATOR
    peer("POST", "/peer/v1/prepare", {"trip_id": "tc-bad"}, expect=422)
    peer("POST", "/peer/v1/commit", {"trip_id": "tc-one"}, expect=200)
    peer("POST", "/peer/v1/commit", {"trip_id": "tc-nobody"}, expect=404)
    for action in ("start", "finish"):
        peer("POST", "/peer/v1/check-in", {"trip_id": "tc-one", "stop": 0, "action": action, "energy_kwh": 10},
             expect=200)
    peer("POST", "/peer/v1/check-in", {"trip_id": "tc-one", "stop": 0, "action": "start"}, expect=409)
    peer("POST", "/peer/v1/abort", {"trip_id": "tc-one", "reason": "contract test"}, expect=409)  # COMMITTED
    peer("POST", "/peer/v1/release", {"trip_id": "tc-one", "reason": "contract test"}, expect=200)
    peer("POST", "/peer/v1/commit", {"trip_id": "tc-one"}, expect=409)  # NOT_HELD: over here
    assert peer("POST", "/peer/v1/prepare", prepare("tc-one"), expect=200)["code"] == "TRIP_OVER"
    peer("POST", "/peer/v1/abort", {"trip_id": "tc-nobody", "reason": "contract test"}, expect=200)
    peer("GET", "/peer/v1/trips/tc-nobody/outcome", expect=200)
    peer("POST", "/peer/v1/batch", {"ops": [
        {"op": "prepare", "args": prepare("tc-four")},
        {"op": "prepare", "args": prepare("tc-five", min_power_kw=fastest + 1)},
        {"op": "commit", "args": {"trip_id": "tc-four"}},
        {"op": "check_in", "args": {"trip_id": "tc-four", "stop": 0, "action": "start"}},
        {"op": "outcome", "args": {"trip_id": "tc-nobody"}},
        {"op": "commit", "args": {"trip_id": "tc-nobody"}},
    ]}, expect=200)
    # Answered without FastAPI (servers/api/peer_direct.py) when valid and signed; refused in the same shape.
    peer("POST", "/peer/v1/batch", {"ops": []}, expect=422)
    peer("POST", "/peer/v1/batch", {"ops": [{"op": "outcome", "args": {"trip_id": "tc-nobody"}}]}, signed=False,
         expect=401)
    seq = peer("GET", "/peer/v1/occupancy?after=-1", expect=200)["seq"]
    peer("GET", f"/peer/v1/occupancy?after={seq}&wait=0", expect=200)
    peer("GET", "/peer/v1/occupancy?wait=99", expect=422)
    peer("GET", "/peer/v1/occupancy", signed=False, expect=401)
    peer("GET", f"/peer/v1/availability/{station.id}?hours=2", expect=200)
    peer("GET", "/peer/v1/availability/nowhere", expect=404)
    # A notice of a failed point, to the coordinator of a trip with a stop at HOME (the notice's signer).
    session = peer("POST", "/api/v1/accounts", signup_form(4250), expect=201)
    trip = peer("POST", "/api/v1/trips", {**ROUTE, "departure": soon(30)},
                headers={"Authorization": "Bearer " + session["token"]}, expect=201)
    ours = next(s for s in trip["stops"] if s["company_id"] == HOME)
    notice = {"trip_id": trip["trip_id"], "hold_id": trip["trip_id"], "stop": ours["stop"], "kind": "MOVED",
              "point_id": ours["point_id"], "from_point_id": ours["point_id"], "reason": "BROKEN_CHARGER"}
    assert peer("POST", "/peer/v1/notices", notice, expect=200)["kind"] == "MOVED"
    peer("POST", "/peer/v1/notices", {**notice, "stop": 99}, expect=404)  # UNKNOWN_STOP
    theirs = next((s for s in trip["stops"] if s["company_id"] != HOME), None)
    if theirs is not None:  # a stop HOME does not hold: not HOME's to speak of
        peer("POST", "/peer/v1/notices", {**notice, "stop": theirs["stop"]}, expect=403)


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A JSON Schema validator for one schema of the document, its `$ref`s resolved in the document; date-time
    strings must be ISO 8601 with a zone (the servers write no other)."""
    formats = jsonschema.FormatChecker()

    @formats.checks("date-time", raises=ValueError)
    def _aware(value: object) -> bool:
        return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None

    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]}, format_checker=formats)


def declared(spec: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """The response the OpenAPI document declares for the exchange's route and status."""
    responses = spec["paths"][exchange.route][exchange.method.lower()]["responses"]
    assert str(exchange.status) in responses, (
        f"{exchange.method} {exchange.route} answered {exchange.status}, which it does not declare")
    return dict(responses[str(exchange.status)])


def models() -> dict[tuple[str, str], Any]:
    """Each route's response model, as the code declares it."""
    routes = [r for r in (*public.router.routes, *peer.router.routes) if isinstance(r, APIRoute)]
    return {(method, r.path): r.response_model for r in routes for method in r.methods}


def test_the_scenario_gets_a_success_from_every_route_and_the_served_document_is_the_committed_one(spec,
                                                                                                  exchanges):
    operations = {(m.upper(), p) for p, methods in spec["paths"].items() for m in methods}
    succeeded = {(e.method, e.route) for e in exchanges if e.status < 400}
    assert operations - succeeded == set(), "routes the scenario never got a success from"
    assert spec == json.loads(DOCS_OPENAPI.read_text()), "the live document differs from docs/api/openapi.json"


def test_every_success_fits_the_schema_its_route_declares_and_its_pydantic_model(spec, exchanges):
    by_route = models()
    checked = 0
    for e in (e for e in exchanges if e.status < 400):
        schema = declared(spec, e)["content"]["application/json"]["schema"]
        problems = [f"{'/'.join(map(str, p.absolute_path))}: {p.message}"
                    for p in validator(spec, schema).iter_errors(e.body)]
        assert problems == [], f"{e.method} {e.route} → {e.status}: {problems[:5]}"
        TypeAdapter(by_route[(e.method, e.route)]).validate_python(e.body)
        checked += 1
    assert checked >= sum(len(methods) for methods in spec["paths"].values())  # one at least per route


def test_every_error_fits_the_error_shape_of_its_status_and_names_a_code_declared_for_it(spec, exchanges):
    errors = [e for e in exchanges if e.status >= 400]
    assert {e.status for e in errors} >= {400, 401, 404, 409, 422}
    for e in errors:
        response = declared(spec, e)
        problems = [p.message for p in validator(spec, response["content"]["application/json"]["schema"])
                    .iter_errors(e.body)]
        assert problems == [], f"{e.method} {e.route} → {e.status}: {problems[:5]}"
        ErrorOut.model_validate(e.body)
        assert f"`{e.body['code']}`" in response["description"], (
            f"{e.method} {e.route} answered {e.status} {e.body['code']}, not among its declared codes: "
            f"{response['description']}")


def test_a_refused_booking_is_a_409_whose_details_hold_the_refusal(exchanges):
    refused = {e.body["code"]: e.body for e in exchanges
               if (e.method, e.route, e.status) == ("POST", "/api/v1/trips", 409)}
    assert {"TRIP_OVERLAPS", "INSUFFICIENT_CREDIT", "REQUEST_ID_REUSED"} <= set(refused)
    overlap = BookingRefusedOut.model_validate(refused["TRIP_OVERLAPS"]).details
    booked = next(e.body["trip_id"] for e in exchanges if (e.route, e.status) == ("/api/v1/trips", 201))
    assert overlap.status == "REJECTED" and overlap.overlaps is not None and overlap.overlaps.trip_id == booked
    poor = BookingRefusedOut.model_validate(refused["INSUFFICIENT_CREDIT"]).details
    assert poor.cost is not None and poor.cost > 0
    # A reused request id is a plain error: its details name the first operation, not a refusal.
    assert refused["REQUEST_ID_REUSED"]["details"]["op"] == "add_credit"


def test_fields_a_reply_leaves_out_stay_out_instead_of_becoming_null(exchanges):
    me = [e.body for e in exchanges if (e.route, e.status) == ("/api/v1/me", 200)][-1]
    kinds = {entry["kind"]: entry for entry in me["statement"]}
    assert set(kinds) == {"credit", "debit", "refund", "charge"}  # the charge: the first trip's record
    assert "trip_id" not in kinds["credit"] and kinds["debit"]["trip_id"] and kinds["refund"]["trip_id"]
    started = next(e.body for e in exchanges if e.route == "/api/v1/trips/{trip_id}/check-in" and e.status == 200)
    assert started["charging"] == "CHARGING" and "energy_kwh" not in started and "cost_cents" not in started
    over = next(e.body for e in exchanges if e.route == "/peer/v1/prepare" and e.body.get("code") == "TRIP_OVER")
    assert set(over) == {"vote", "trip_id", "code", "reason"}
    batch = next(e.body for e in exchanges if e.route == "/peer/v1/batch")
    assert [(r["ok"], r["result"] is None, r["error"] is None) for r in batch["results"]] == (
        [(True, False, True)] * 5 + [(False, True, False)])
    assert batch["results"][1]["result"]["vote"] == "no" and batch["results"][5]["error"]["status"] == 404
