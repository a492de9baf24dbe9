"""Accounts and secrets on a live network with brokers: hashes only, throttled logins, and no secret anywhere.

Broker ACL and anonymous logins are covered in tests/broker/ and
tests/servers/test_gateway.py; forged, replayed and stale peer requests in
tests/servers/test_live_network.py. Here: what the server keeps and writes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from events.store import SqliteEventStore
from federation.launcher import SIGNUP_PASSWORD, LocalNetwork
from servers.peer_auth import sign
from servers.service.secrets import verify_password
from tests.live import LiveNetworks, signup_form
from vehicle_sim.client import VehicleClient, signup
from vehicle_sim.errors import ReplyError

pytestmark = pytest.mark.integration
HOME = "voltpoint"


@pytest.fixture(scope="module")
def net(live_network: LiveNetworks) -> Iterator[LocalNetwork]:
    with live_network("secrets") as running:
        yield running


def events_of(net: LocalNetwork, cid: str) -> list:
    with SqliteEventStore(net.log_path(cid), create=False) as store:
        return list(store.iter_all())


def test_passwords_are_kept_only_as_scrypt_hashes_and_tokens_only_as_digests(net):
    form = signup_form(2101)
    r = httpx.post(net.companies[HOME].api_url + "/api/v1/accounts", json=form, timeout=30)
    assert r.status_code == 201, r.text
    body = r.json()
    opened = next(e for e in events_of(net, HOME)
                  if e.type == "AccountOpened" and e.data["vehicle_id"] == body["vehicle_id"])
    stored = opened.data["password_hash"]
    assert stored.startswith("scrypt$16384$8$")  # memory-hard: N=2^14, r=8 → 16 MiB per guess
    assert verify_password(str(form["password"]), stored) and not verify_password("wrong", stored)
    assert opened.data["broker_password_hash"].startswith("$7$")  # Mosquitto's PBKDF2-SHA512
    issued = [e for e in events_of(net, HOME) if e.type == "TokenIssued" and e.data["vehicle_id"] == body["vehicle_id"]]
    assert issued and all(len(e.data["token_hash"]) == 64 for e in issued)  # SHA-256 hex, never the token
    # Tokens are valid 12 h (servers/service/accounts.py TOKEN_TTL, not configurable; expiry itself is
    # tested with a log whose token has expired, in test_log_integrity.py).
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=12)


def test_five_failed_logins_lock_the_identity_out_even_for_the_right_password(net):
    form = signup_form(2102)
    base = net.companies[HOME].api_url
    assert httpx.post(base + "/api/v1/accounts", json=form, timeout=30).status_code == 201
    for _ in range(5):
        r = httpx.post(base + "/api/v1/sessions", json={"login": form["email"], "password": "guess"})
        assert (r.status_code, r.json()["code"]) == (401, "BAD_CREDENTIALS")
    locked = httpx.post(base + "/api/v1/sessions", json={"login": form["email"], "password": form["password"]})
    assert (locked.status_code, locked.json()["code"]) == (429, "TOO_MANY_ATTEMPTS")
    # Another account is not affected by this one's lock-out.
    other = signup_form(2103)
    assert httpx.post(base + "/api/v1/accounts", json=other, timeout=30).status_code == 201
    ok = httpx.post(base + "/api/v1/sessions", json={"login": other["email"], "password": other["password"]})
    assert ok.status_code == 200, ok.text


def test_a_token_revoked_by_logout_over_mqtt_is_refused_everywhere(net):
    """Logout (MQTT op `logout`; there is no REST route) revokes the token for REST and MQTT alike."""
    port = net.companies[HOME].broker_port
    session = signup("127.0.0.1", port, HOME, signup_form(2104))
    auth = {"Authorization": "Bearer " + session["token"]}
    assert httpx.get(net.companies[HOME].api_url + "/api/v1/me", headers=auth).status_code == 200
    car = VehicleClient("127.0.0.1", port, HOME, session["vehicle_id"], session["broker"]["username"],
                        session["broker"]["password"])
    car.connect(timeout=10)
    try:
        car.token = session["token"]
        car.request("logout", token=session["token"])  # the token to revoke travels in args
        with pytest.raises(ReplyError) as refused:
            car.request("account")
        assert refused.value.code == "BAD_TOKEN"
    finally:
        car.close()
    r = httpx.get(net.companies[HOME].api_url + "/api/v1/me", headers=auth)
    assert (r.status_code, r.json()["code"]) == (401, "BAD_TOKEN")
    assert any(e.type == "TokenRevoked" for e in events_of(net, HOME))


def test_no_secret_ever_appears_in_an_event_a_log_line_or_an_error_reply(net):
    """Sign up, log in, fail to log in, book, use the operator and peer routes with known secrets; then scan."""
    base = net.companies[HOME].api_url
    secrets: set[str] = set()
    replies: list[str] = []
    form = signup_form(2105)
    form["password"] = "Senha-Secreta-" + uuid.uuid4().hex
    secrets.add(str(form["password"]))
    r = httpx.post(base + "/api/v1/accounts", json=form, timeout=30)
    session = r.json()
    secrets |= {session["token"], session["broker"]["password"]}
    login = httpx.post(base + "/api/v1/sessions", json={"login": form["cpf"], "password": form["password"]}).json()
    secrets |= {login["token"], login["broker"]["password"]}
    # Errors that carry a secret-looking input must not echo it back.
    wrong_password = "Errada-" + uuid.uuid4().hex
    forged_token = "forged-" + uuid.uuid4().hex
    wrong_operator = "op-guess-" + uuid.uuid4().hex
    secrets |= {wrong_password, forged_token, wrong_operator}
    replies.append(httpx.post(base + "/api/v1/sessions", json={"login": form["email"],
                                                                "password": wrong_password}).text)
    replies.append(httpx.get(base + "/api/v1/me", headers={"Authorization": "Bearer " + forged_token}).text)
    replies.append(httpx.post(base + "/api/v1/accounts", json=form, timeout=30).text)  # ACCOUNT_EXISTS
    point = httpx.get(base + "/api/v1/stations").json()[0]["points"][0]["point_id"]
    replies.append(httpx.put(f"{base}/api/v1/points/{point}/status", json={"status": "AVAILABLE"},
                             headers={"X-Operator-Token": wrong_operator}).text)
    # The real operator token and peer secrets, used for real.
    logins = json.loads((net.run_dir / "service-logins.json").read_text())
    for company_logins in logins.values():
        secrets |= set(company_logins.values())
    operator = logins[HOME]["operator"]
    for status in ("OUT_OF_ORDER", "AVAILABLE"):
        ok = httpx.put(f"{base}/api/v1/points/{point}/status", json={"status": status},
                       headers={"X-Operator-Token": operator})
        assert ok.status_code == 200, ok.text
    peer_secrets = json.loads((net.run_dir / "peer-secrets.json").read_text())
    secrets |= set(peer_secrets.values())
    path = "/peer/v1/trips/no-such-trip/outcome"
    replies.append(httpx.get(base + path, headers=sign(peer_secrets, "eflux", HOME, "GET", path, b"")).text)
    # A booking with the real token, and a vehicle over MQTT (sign-up, login, a request).
    when = (datetime.now(UTC) + timedelta(hours=9)).replace(microsecond=0).isoformat()
    booked = httpx.post(base + "/api/v1/trips", headers={"Authorization": "Bearer " + login["token"]},
                        json={"origin": "salvador", "destination": "fortaleza", "departure": when}, timeout=30)
    replies.append(booked.text)
    port = net.companies[HOME].broker_port
    mqtt_session = signup("127.0.0.1", port, HOME, signup_form(2106))
    secrets |= {mqtt_session["token"], mqtt_session["broker"]["password"]}
    car = VehicleClient("127.0.0.1", port, HOME, mqtt_session["vehicle_id"], mqtt_session["broker"]["username"],
                        mqtt_session["broker"]["password"])
    car.connect(timeout=10)
    try:
        car.token = mqtt_session["token"]
        assert car.request("account")["vehicle_id"] == mqtt_session["vehicle_id"]
    finally:
        car.close()
    secrets.discard(SIGNUP_PASSWORD)  # the shared sign-up login is public on purpose (federation/launcher.py)
    assert all(len(s) >= 12 for s in secrets)  # long enough that a hit is never a coincidence

    haystacks: dict[str, str] = {f"reply {i}": text for i, text in enumerate(replies)}
    for cid in net.companies:
        haystacks[f"events of {cid}"] = "\n".join(f"{e.type} {json.dumps(e.data)}" for e in events_of(net, cid))
        for suffix in ("", "-wal"):
            raw = net.run_dir / "data" / f"{cid}.db{suffix}"
            if raw.exists():
                haystacks[str(raw)] = raw.read_bytes().decode("latin-1")
    files = [*(net.run_dir / "logs").glob("*.log"), *(net.run_dir / "brokers").glob("*/mosquitto.log"),
             *(net.run_dir / "brokers").glob("*/mosquitto.out")]
    assert len(files) >= 6
    for f in files:
        haystacks[str(f)] = f.read_text(errors="replace")
    leaks = [(where, s[:6] + "…") for where, text in haystacks.items() for s in secrets if s in text]
    assert leaks == []
