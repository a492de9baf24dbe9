"""Every REST operation of a live server, fuzzed by schemathesis from the server's own OpenAPI.

Target: EcoCharge of a live three-company network. For each operation,
schemathesis generates valid (positive) and invalid (negative) requests,
at most FUZZ_EXAMPLES of each (env RECARGA_FUZZ_EXAMPLES, default 20), so the
whole file runs in about a minute. Every answer must be below 500 and the
server must stay up. And the log must not change except as allowed:

- no credentials: a well-formed sign-up legitimately opens an account
  (AccountOpened, TokenIssued, CreditAdded); nothing else may be appended;
- a valid token, every operation except booking and adding credit (which
  legitimately write when the body is valid): nothing may be appended;
  booking and adding credit get only invalid bodies: nothing appended;
- peer routes unsigned: every answer 401 and nothing appended;
- peer routes signed with the real pair secret (as VoltPoint): only
  recorded refusals (PrepareRefused) may be appended — random trips are
  unknown, so commit/abort/release/outcome must be no-ops.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from events.store import SqliteEventStore
from federation.launcher import LocalNetwork
from servers.peer_auth import sign
from tests.live import LiveNetworks, signup_form

pytestmark = pytest.mark.integration
TARGET, CALLER = "ecocharge", "voltpoint"
FUZZ_EXAMPLES = int(os.environ.get("RECARGA_FUZZ_EXAMPLES", "20"))
SIGNUP_EVENTS = {"AccountOpened", "TokenIssued", "CreditAdded"}
WRITERS = {("POST", "/api/v1/trips"), ("POST", "/api/v1/me/credit")}
ROOT_OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("fuzz", mqtt=False) as running:
        yield running


@pytest.fixture(scope="module")
def operations(net: LocalNetwork) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(net.companies[TARGET].api_url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture(scope="module")
def token(net: LocalNetwork) -> str:
    r = httpx.post(net.companies[TARGET].api_url + "/api/v1/accounts", json=signup_form(31337), timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


@dataclass
class Outcome:
    """What the fuzzer got back: statuses per operation, and every 5xx or transport failure."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    sent: int = 0


def head(net: LocalNetwork) -> int:
    with SqliteEventStore(net.log_path(TARGET), create=False) as store:
        return store.head()


def appended_since(net: LocalNetwork, seq: int) -> Counter[str]:
    with SqliteEventStore(net.log_path(TARGET), create=False) as store:
        return Counter(e.type for e in store.iter_all(after=seq))


def fuzz(net: LocalNetwork, ops: list[schemathesis.APIOperation], *,
         headers: Callable[[httpx.Request], dict[str, str]] = lambda _: {},
         tweak: Callable[[str, object], object] = lambda _p, body: body,
         modes: Callable[[schemathesis.APIOperation], list[GenerationMode]] = lambda _: list(GenerationMode),
         ) -> Outcome:
    """Send generated requests for each operation and mode; collect statuses and failures (never raises)."""
    base = net.companies[TARGET].api_url
    out = Outcome()
    with httpx.Client(timeout=30) as client:
        for op in ops:
            _fuzz_operation(client, base, op, modes(op), headers, tweak, out)
    assert httpx.get(base + "/api/v1/health").status_code == 200, "the server died under fuzzing"
    return out


def _fuzz_operation(client: httpx.Client, base: str, op: schemathesis.APIOperation, modes: list[GenerationMode],
                    headers: Callable[[httpx.Request], dict[str, str]], tweak: Callable[[str, object], object],
                    out: Outcome) -> None:
    """Up to FUZZ_EXAMPLES generated requests per mode for one operation."""
    op_label = f"{op.method.upper()} {op.path}"
    for mode in modes:
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(mode))
        def run(case: schemathesis.Case) -> None:
            kw = case.as_transport_kwargs(base_url=base)
            content = None
            if "json" in kw:
                try:
                    content = json.dumps(tweak(op.path, kw["json"])).encode()
                except (TypeError, ValueError):
                    return  # not JSON-serialisable: nothing a real client could send
            elif "data" in kw:
                content = kw["data"] if isinstance(kw["data"], bytes) else str(kw["data"]).encode()
            request = client.build_request(kw["method"], kw["url"], params=kw.get("params"),
                                           content=content, headers={
                                               **{k: str(v) for k, v in kw["headers"].items()},
                                               **({"Content-Type": "application/json"} if "json" in kw
                                                  else {})})
            request.headers.update(headers(request))
            out.sent += 1
            try:
                r = client.send(request)
            except httpx.HTTPError as exc:
                out.failures.append(f"{op_label}: {type(exc).__name__}: {exc}")
                return
            out.statuses[(op_label, r.status_code)] += 1
            if r.status_code >= 500:
                out.failures.append(f"{op_label} -> {r.status_code} {r.text[:300]} for {kw}")

        with contextlib.suppress(Unsatisfiable):  # nothing to make invalid, e.g. a route without parameters
            run()


def is_public(op: schemathesis.APIOperation) -> bool:
    return op.path.startswith("/api/v1/")


def test_the_committed_openapi_matches_the_live_one(net):
    live = httpx.get(net.companies[TARGET].api_url + "/openapi.json").json()
    committed = json.loads(ROOT_OPENAPI.read_text())
    assert {p: sorted(v) for p, v in live["paths"].items()} == {p: sorted(v) for p, v in committed["paths"].items()}


def test_the_public_api_fuzzed_without_credentials_never_fails_and_only_signs_up(net, operations):
    before = head(net)
    out = fuzz(net, [op for op in operations if is_public(op)])
    assert out.failures == []
    appended = appended_since(net, before)
    assert set(appended) <= SIGNUP_EVENTS, appended
    # No protected route ever let the anonymous caller through.
    protected = ("GET /api/v1/me", "POST /api/v1/me", "POST /api/v1/trips", "GET /api/v1/trips",
                 "GET /api/v1/reservations", "PUT /api/v1/points")
    let_through = {k: n for k, n in out.statuses.items() if k[0].startswith(protected) and k[1] < 400}
    assert let_through == {}
    assert out.sent >= len(operations)


def test_the_public_api_fuzzed_with_a_valid_token_never_fails_and_appends_nothing(net, operations, token):
    before = head(net)
    ops = [op for op in operations if is_public(op) and op.path != "/api/v1/accounts"]
    out = fuzz(net, ops, headers=lambda _: {"Authorization": "Bearer " + token},
               modes=lambda op: ([GenerationMode.NEGATIVE] if (op.method.upper(), op.path) in WRITERS
                                 else list(GenerationMode)))
    assert out.failures == []
    assert appended_since(net, before) == Counter()
    assert any(status == 200 for (label, status) in out.statuses if label == "GET /api/v1/me")


def test_peer_routes_fuzzed_unsigned_are_all_refused_and_change_nothing(net, operations):
    before = head(net)
    out = fuzz(net, [op for op in operations if not is_public(op)])
    assert out.failures == []
    # The signature is checked before anything else (servers/api/peer_auth_middleware.py): even a
    # malformed body learns only 401.
    assert {status for (_, status) in out.statuses} == {401}, out.statuses
    assert appended_since(net, before) == Counter()


def test_peer_routes_fuzzed_signed_never_fail_and_record_only_refusals(net, operations):
    secrets = json.loads((net.run_dir / "peer-secrets.json").read_text())

    def signed(request: httpx.Request) -> dict[str, str]:
        path = request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        return sign(secrets, CALLER, TARGET, request.method, path, request.content)

    def as_coordinator(path: str, body: object) -> object:
        # A prepare is only heard from the trip's coordinator; claim to be it, to reach deeper code.
        if path == "/peer/v1/prepare" and isinstance(body, dict):
            return {**body, "coordinator": CALLER}
        return body

    before = head(net)
    ops = [op for op in operations if not is_public(op)]
    out = fuzz(net, ops, headers=signed, tweak=as_coordinator)
    assert out.failures == []
    appended = appended_since(net, before)
    assert set(appended) <= {"PrepareRefused"}, appended
    authenticated = sum(n for (_, status), n in out.statuses.items() if status != 401)
    assert authenticated > out.sent // 2, f"most signed requests were refused as unsigned: {out.statuses}"


def test_signed_availability_of_an_unknown_station_is_404_not_500(net):
    secrets = json.loads((net.run_dir / "peer-secrets.json").read_text())
    path = "/peer/v1/availability/no-such-station"
    r = httpx.get(net.companies[TARGET].api_url + path, headers=sign(secrets, CALLER, TARGET, "GET", path, b""))
    assert (r.status_code, r.json()["code"]) == (404, "UNKNOWN_STATION")


def test_a_non_ascii_operator_token_is_401_not_500(net):
    url = net.companies[TARGET].api_url + "/api/v1/points/any/status"
    r = httpx.put(url, json={"status": "AVAILABLE"}, headers={"X-Operator-Token": "é".encode("latin-1")})
    assert (r.status_code, r.json()["code"]) == (401, "BAD_OPERATOR_TOKEN")


def test_a_non_ascii_peer_signature_is_401_not_500(net):
    headers = {"X-Recarga-Peer": CALLER, "X-Recarga-Timestamp": f"{time.time():.6f}",
               "X-Recarga-Signature": "é".encode("latin-1")}
    r = httpx.get(net.companies[TARGET].api_url + "/peer/v1/trips/x/outcome", headers=headers)
    assert (r.status_code, r.json()["code"]) == (401, "BAD_SIGNATURE")


EDGE_TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59),
                 timezones=st.none() | st.just(UTC) | st.sampled_from([timezone(timedelta(hours=h)) for h in
                                                                       (-14, -3, 5, 14)])).map(datetime.isoformat),
    st.sampled_from(["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00", "2026-02-30T10:00:00Z",
                     "now", "", "T", "2026-12-01T25:00:00Z"]))
EDGE_NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(min_value=-2**70,
                                                                                         max_value=2**70),
                         st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]))


@settings(max_examples=int(os.environ.get("RECARGA_FUZZ_EXAMPLES", "20")) * 10, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(departure=EDGE_TIMES, number=EDGE_NUMBERS, field=st.sampled_from(
    ["charge_kwh", "capacity_kwh", "consumption_kwh_per_km", "max_ac_kw", "max_dc_kw", "alternatives"]),
    raw_number=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", None]))
def test_plans_and_bookings_at_the_edges_of_dates_and_numbers_get_a_4xx_never_a_500(net, token, departure, number,
                                                                                    field, raw_number):
    base = net.companies[TARGET].api_url
    body = {"origin": "recife", "destination": "fortaleza", "departure": departure, field: number}
    text = json.dumps(body)
    if raw_number is not None:  # numbers JSON has no word for, as Python's json writes them
        text = text.replace(json.dumps(number), raw_number, 1) if field in body else text
    plan = httpx.post(base + "/api/v1/plan", content=text, headers={"Content-Type": "application/json"}, timeout=30)
    assert plan.status_code < 500, plan.text
    if plan.status_code >= 400:
        assert plan.json()["code"]
    trip = {k: v for k, v in body.items() if k in ("origin", "destination", "departure", "charge_kwh")}
    booked = httpx.post(base + "/api/v1/trips", json=trip, timeout=30, headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
    assert booked.status_code < 500, booked.text
    if booked.status_code >= 400:
        assert booked.json()["code"]
