"""Every call the dashboards make to the servers, in one place.

Reads go over REST (`/api/v1/…`) and are cached with `st.cache_data(ttl=…)`;
a vehicle's actions go over MQTT to its home company's broker, through
`vehicle_sim.client` — exactly as a third-party app would. Where the
servers are comes from `RECARGA_CLIENTS_FILE` (default `run/clients.json`,
written by `python -m federation up`).

A server that cannot be reached raises `ServerDown`; a server that answers
with an error raises `ApiError`; pages turn both into a message, never a
traceback. Nothing here touches the network at import time.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import streamlit as st

from contract.clients import ClientsFile, CompanyAddress, clients_path
from vehicle_sim.client import SignupClient, VehicleClient, signup
from vehicle_sim.errors import ClientError, ConnectFailed, ReplyError, RequestTimeout

__all__ = [
    "ApiError",
    "BrowserLogin",
    "ClientError",
    "ConnectFailed",
    "ReplyError",
    "RequestTimeout",
    "ServerDown",
]

#: A local server answers in milliseconds; a dead one refuses at once. The timeout only bounds a hung one,
#: and is short so that a page's first paint stays quick when a company is down.
HTTP_TIMEOUT_S = 2.0
#: Booking runs a two-phase commit across companies: give it longer than a read.
BOOK_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
SESSION_KEY = "vehicle_session"
HANDLE_KEY = "vehicle_session_handle"
RESTORE_TRIED = "vehicle_session_restore_tried"
COOKIE_PENDING = "vehicle_session_cookie"
#: The browser's cookie: a random handle of a login kept in this process, never the token itself.
COOKIE = "recarga_session"
DEFAULT_KEEP = timedelta(hours=12)


class ServerDown(Exception):
    """A company's server could not be reached (refused, timed out, or not configured)."""

    def __init__(self, company: str, why: str) -> None:
        """Say which company and why."""
        super().__init__(f"{company}: {why}")
        self.company = company
        self.why = why


class ApiError(Exception):
    """A server answered a REST read with an error body `{code, message, details}`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        """Keep the server's stable code and message."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


# -- where the servers are -----------------------------------------------------------------------------

def clients_file() -> Path:
    """The clients' file this process reads."""
    return clients_path()


@st.cache_data(ttl=30, show_spinner=False)
def _read_clients(path: str, mtime: float) -> dict[str, CompanyAddress]:
    return ClientsFile.read(path).companies


def companies() -> dict[str, CompanyAddress]:
    """Company id → its addresses and logins, from the clients' file; {} when there is none."""
    path = clients_file()
    try:
        return _read_clients(str(path), path.stat().st_mtime)  # the mtime makes a rewritten file reread
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return {}


def company(cid: str) -> CompanyAddress:
    """One company's entry in the clients' file; ServerDown if it has none."""
    found = companies().get(cid)
    if found is None:
        raise ServerDown(cid, f"not in {clients_file()}")
    return found


# -- REST reads ----------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _http() -> httpx.Client:
    # One client for the process: kept-alive connections. A new connection per read cost ~20 ms each, and a
    # page makes several (issue #16 item 12: first paint).
    return httpx.Client(timeout=HTTP_TIMEOUT_S)


def _get(api: str, company_id: str, path: str, params: dict[str, Any] | None = None) -> Any:
    try:
        reply = _http().get(api + path, params=params)
    except httpx.HTTPError as exc:
        raise ServerDown(company_id, f"{api} did not answer ({type(exc).__name__})") from None
    try:
        body = reply.json()
    except ValueError:
        raise ServerDown(company_id, f"{api}{path} answered {reply.status_code} without JSON") from None
    if reply.status_code >= 400:
        if isinstance(body, dict):
            raise ApiError(str(body.get("code", reply.status_code)), str(body.get("message", "")),
                           body.get("details") if isinstance(body.get("details"), dict) else None)
        raise ApiError(str(reply.status_code), reply.reason_phrase)
    return body


@functools.cache
def _cached_get(ttl: float, max_entries: int | None) -> Callable[[str, str, str, dict[str, Any]], Any]:
    """`_get`, behind one `st.cache_data` per (ttl, max_entries)."""
    def fetch(api: str, company_id: str, path: str, params: dict[str, Any]) -> Any:
        return _get(api, company_id, path, params or None)

    # Streamlit keys a cache by the function's module, qualified name and source, so nested functions made
    # here would share one cache (streamlit#11157) and each ttl would keep resetting it: a name per ttl.
    fetch.__qualname__ = f"_cached_get[ttl={ttl:g},max_entries={max_entries}]"
    cached: Callable[[str, str, str, dict[str, Any]], Any] = st.cache_data(
        ttl=ttl, max_entries=max_entries, show_spinner=False)(fetch)
    return cached


def _read(cid: str, path: str, params: dict[str, Any] | None = None, *, ttl: float,
          max_entries: int | None = None) -> Any:
    """GET `path` of company `cid`, cached `ttl` seconds per server address, path and parameters.

    The API address is part of the key, so two networks (e.g. in tests) never share entries; st.cache_data
    does not cache exceptions: a server that is down is asked again on the next run.
    """
    return _cached_get(ttl, max_entries)(company(cid).api, cid, path, params or {})


def network() -> dict[str, Any]:
    """Cities, roads, companies and stations — from the first company that answers."""
    down: list[str] = []
    for cid in companies():
        try:
            found: dict[str, Any] = _read(cid, "/api/v1/network", ttl=300)
            return found
        except (ServerDown, ApiError) as exc:
            down.append(str(exc))
    raise ServerDown("network", "; ".join(down) or f"no company in {clients_file()}")


def health(cid: str) -> dict[str, Any]:
    """`/api/v1/health` of one company; ServerDown when it does not answer."""
    found: dict[str, Any] = _read(cid, "/api/v1/health", ttl=2)
    return found


def stations(cid: str, hours: float = 6.0) -> list[dict[str, Any]]:
    """One company's stations with each point's live status and bookings in the next `hours`."""
    found: list[dict[str, Any]] = _read(cid, "/api/v1/stations", {"hours": hours}, ttl=3)
    return found


def point_statuses(cid: str) -> list[dict[str, Any]]:
    """Every point of one company with its live status by OCPI's names, and since when (as on its broker)."""
    found: list[dict[str, Any]] = _read(cid, "/api/v1/points/status", ttl=2)
    return found


def stats(cid: str) -> dict[str, Any]:
    """One company's figures: points, occupancy, holds, trips confirmed and refused."""
    found: dict[str, Any] = _read(cid, "/api/v1/stats", ttl=3)
    return found


def company_figures(cid: str) -> dict[str, Any]:
    """One company's charging figures: charge detail records, kWh, revenue by part, no-shows and fees."""
    found: dict[str, Any] = _read(cid, "/api/v1/company/figures", ttl=3)
    return found


def events(cid: str, after: int = 0, limit: int = 100, types: tuple[str, ...] = ()) -> dict[str, Any]:
    """`{head, events}`: up to `limit` events after sequence `after`, of the given types (all when empty)."""
    params: dict[str, Any] = {"after": after, "limit": limit}
    if types:
        params["type"] = sorted(types)
    found: dict[str, Any] = _read(cid, "/api/v1/events", params, ttl=3)
    return found


def log_state(cid: str, at: int) -> dict[str, Any]:
    """The state the server rebuilds by replaying its log up to sequence `at`."""
    # The state at a past sequence number never changes: cached long, so the slider goes back quickly.
    found: dict[str, Any] = _read(cid, "/api/v1/log/state", {"at": at}, ttl=600, max_entries=200)
    return found


def log_state_at_time(cid: str, at_time: str) -> dict[str, Any]:
    """The state the server rebuilds by replaying its log up to a moment (ISO 8601)."""
    found: dict[str, Any] = _read(cid, "/api/v1/log/state", {"at_time": at_time}, ttl=600,
                                  max_entries=200)
    return found


def verify(cid: str) -> dict[str, Any]:
    """The hash-chain check of one company's log: `{ok, first_bad_seq, reason, checked}`."""
    found: dict[str, Any] = _read(cid, "/api/v1/log/verify", ttl=10)
    return found


# -- a vehicle over MQTT -------------------------------------------------------------------------------

def _signup_client(cid: str) -> SignupClient:
    entry = company(cid)
    return SignupClient(entry.broker_host, entry.broker_port, cid, entry.signup.username, entry.signup.password)


def fake_form(cid: str) -> dict[str, Any]:
    """A plausible sign-up form filled by Faker (pt_BR), asked of the company's sign-up channel."""
    with _signup_client(cid) as client:
        form: dict[str, Any] = client.request("fake", REQUEST_TIMEOUT_S)
    return form


@dataclass
class BrowserLogin:
    """The vehicle logged in from one browser: its home company and its one MQTT connection (`st.session_state`)."""

    company: str
    vehicle_id: str
    client: VehicleClient
    expires_at: str = ""
    history: list[str] = field(default_factory=list)
    driver: str = ""  # "Maria da Silva · BYD Dolphin RCG1A23", for the sidebar

    def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one operation and return its result; ReplyError / RequestTimeout / ClientError otherwise."""
        return self.client.request(op, timeout, **args)

    def close(self) -> None:
        """Log out at the server (best effort) and close the connection."""
        with contextlib.suppress(ClientError):  # the session ends here either way; the token also expires
            self.client.request("logout", 2.0, token=self.client.token)
        self.client.close()


def _connect(cid: str, result: dict[str, Any]) -> BrowserLogin:
    entry = company(cid)
    broker = result.get("broker", {})
    vehicle_id = result["vehicle_id"]
    car = VehicleClient(entry.broker_host, entry.broker_port, cid, vehicle_id,
                        broker.get("username", vehicle_id), broker.get("password", ""))
    car.connect()
    car.token = result["token"]
    session = BrowserLogin(cid, vehicle_id, car, str(result.get("expires_at", "")))
    with contextlib.suppress(ClientError):  # only the sidebar's words depend on it
        account = session.request("account", REQUEST_TIMEOUT_S)
        owner, vehicle = account.get("owner", {}), account.get("vehicle", {})
        session.driver = " · ".join(x for x in (str(owner.get("name", "")), f"{vehicle.get('model', '')} "
                                                f"{vehicle.get('plate', '')}".strip()) if x)
    return session


def _open(cid: str, result: dict[str, Any]) -> BrowserLogin:
    session = _connect(cid, result)
    set_session(session)
    keep_across_reloads(cid, result)
    return session


# -- staying logged in across reloads --------------------------------------------------------------------
# A reload starts a new Streamlit session, so `st.session_state` is empty again. The login result (token
# and broker login) stays in this process's memory under a random handle; the browser keeps only the
# handle, in a cookie that expires with the token. A reload finds the handle and reconnects. The secrets
# never reach the browser, and a restarted dashboard simply asks to log in again.

@dataclass(frozen=True)
class SavedLogin:
    """A login result kept for reloads, until its token expires."""

    company: str
    result: dict[str, Any]
    expires_at: datetime


@st.cache_resource(show_spinner=False)
def _saved_logins() -> dict[str, SavedLogin]:
    return {}


def _expiry(result: dict[str, Any]) -> datetime:
    try:
        t = datetime.fromisoformat(str(result.get("expires_at")))
    except ValueError:
        return datetime.now(UTC) + DEFAULT_KEEP
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def keep_across_reloads(cid: str, result: dict[str, Any]) -> str:
    """Remember this login under a new handle and ask the browser to keep the handle; return the handle."""
    handle = secrets.token_urlsafe(24)
    saved = _saved_logins()
    now = datetime.now(UTC)
    for old in [h for h, s in saved.items() if s.expires_at <= now]:  # forget what has expired
        saved.pop(old, None)
    saved[handle] = SavedLogin(cid, dict(result), _expiry(result))
    st.session_state[COOKIE_PENDING] = (handle, max(int((saved[handle].expires_at - now).total_seconds()), 0))
    return handle


def restore(handle: str | None) -> BrowserLogin | None:
    """The session a browser's handle stands for, reconnected; None when unknown, expired or refused."""
    saved = _saved_logins().get(handle or "")
    if saved is None or saved.expires_at <= datetime.now(UTC):
        return None
    try:
        session = _connect(saved.company, saved.result)
    except (ClientError, ServerDown, KeyError):
        return None
    st.session_state[SESSION_KEY] = session
    st.session_state[HANDLE_KEY] = handle
    return session


def write_cookie() -> None:
    """Send the browser a pending cookie change (a new handle, or its removal at log-out); once."""
    pending = st.session_state.pop(COOKIE_PENDING, None)
    if pending is None:
        return
    handle, max_age = pending
    if handle:
        st.session_state[HANDLE_KEY] = handle
    st.html(f"<script>document.cookie = '{COOKIE}={handle}; Max-Age={max_age}; Path=/; SameSite=Strict';</script>",
            unsafe_allow_javascript=True)


def sign_up(cid: str, form: dict[str, Any]) -> BrowserLogin:
    """Open an account at `cid` over MQTT and connect as the new vehicle."""
    entry = company(cid)
    result = signup(entry.broker_host, entry.broker_port, cid, form, username=entry.signup.username,
                    password=entry.signup.password, timeout=REQUEST_TIMEOUT_S)
    return _open(cid, result)


def log_in(cid: str, login: str, password: str) -> BrowserLogin:
    """Log in by CPF or e-mail at `cid` over MQTT and connect as that vehicle."""
    with _signup_client(cid) as client:
        result = client.request("login", REQUEST_TIMEOUT_S, login=login, password=password)
    return _open(cid, result)


def session() -> BrowserLogin | None:
    """The vehicle logged in in this browser session, if any (reconnected after a reload)."""
    found = st.session_state.get(SESSION_KEY)
    if isinstance(found, BrowserLogin):
        return found
    if st.session_state.get(HANDLE_KEY) is None and not st.session_state.get(RESTORE_TRIED):
        st.session_state[RESTORE_TRIED] = True  # once per browser session: a dead handle is not retried
        return restore(st.context.cookies.get(COOKIE))
    return None


def set_session(value: BrowserLogin) -> None:
    """Keep one vehicle connection per browser session (closing any previous one)."""
    old = st.session_state.get(SESSION_KEY)
    if isinstance(old, BrowserLogin) and old is not value:
        old.close()
        _saved_logins().pop(st.session_state.pop(HANDLE_KEY, None) or "", None)
    st.session_state[SESSION_KEY] = value


def log_out() -> None:
    """Close this browser session's vehicle connection and forget it."""
    old = st.session_state.get(SESSION_KEY)
    if isinstance(old, BrowserLogin):
        old.close()
    st.session_state.pop(SESSION_KEY, None)
    _saved_logins().pop(st.session_state.pop(HANDLE_KEY, None) or "", None)
    st.session_state[COOKIE_PENDING] = ("", 0)
