"""Accounts at the home company: sign-up, login, tokens, credit and the statement."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from contract.fake import cpf_is_valid
from contract.models import SignupIn
from events.model import StreamAppend
from mosquitto import hash_broker_password as broker_password_hash
from servers.bookings import events as ev
from servers.bookings.errors import Conflict, DomainError, NotFound, Unauthorized
from servers.bookings.state import Account, ServerState, parse_time
from servers.service.engine import Engine
from servers.service.requests import Requests, answered
from servers.service.secrets import (
    broker_password,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)

R = TypeVar("R")
TOKEN_TTL = timedelta(hours=12)  # the default; `token_ttl_s` in the settings
LOGIN_WINDOW_S = 300.0
LOGIN_MAX_FAILURES = 5


def account_stream(vehicle_id: str) -> str:
    """The stream of one account's events."""
    return f"account:{vehicle_id}"


def digits(cpf: str) -> str:
    """A CPF with its punctuation removed."""
    return "".join(ch for ch in cpf if ch.isdigit())


@dataclass(frozen=True)
class Session:
    """What a successful sign-up or login hands the vehicle, once: its token and broker login."""

    vehicle_id: str
    token: str
    expires_at: str
    broker_username: str
    broker_password: str

    def to_json(self) -> dict[str, Any]:
        return {"vehicle_id": self.vehicle_id, "token": self.token, "expires_at": self.expires_at,
                "broker": {"username": self.broker_username, "password": self.broker_password}}


class TooManyAttempts(DomainError):
    """Too many failed logins for this identity; wait and retry."""

    code = "TOO_MANY_ATTEMPTS"
    status = 429


class Accounts:
    """Account commands and queries of one home company."""

    def __init__(self, engine: Engine, requests: Requests, broker_key: str,
                 token_ttl: timedelta = TOKEN_TTL) -> None:
        self.engine = engine
        self.requests = requests
        self.broker_key = broker_key
        self.token_ttl = token_ttl
        self._failures: dict[str, list[float]] = {}
        self._failures_lock = threading.Lock()
        # One hash at a time: a storm of sign-ups then costs 16 MiB, not 16 MiB each, and leaves a core to bookings.
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hash")

    def close(self) -> None:
        """Stop the hashing pool."""
        self._hashing.shutdown(wait=False, cancel_futures=True)

    # -- commands -------------------------------------------------------------------------------
    async def _hashed(self, fn: Callable[..., R], *args: Any) -> R:
        """Run a slow, memory-hard hash on the hashing pool (one at a time: 16 MiB each, off the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(self._hashing, fn, *args)

    async def signup(self, form: SignupIn) -> Session:
        """Open an account, issue its first token and its broker credentials (staged: await durability)."""
        cpf = digits(form.cpf)
        if not cpf_is_valid(cpf):
            raise DomainError(f"CPF {form.cpf} is not valid (check digits)", code="INVALID_CPF")
        if cpf in self.engine.state.by_login or form.email.lower() in self.engine.state.by_login:
            raise Conflict("an account with this CPF or e-mail already exists", code="ACCOUNT_EXISTS")
        vehicle_id = "v" + uuid.uuid4().hex[:12]
        broker_login = broker_password(self.broker_key, vehicle_id, 1)
        password_hash, broker_hash = await self._hashed(_hash_both, form.password, broker_login)
        token = new_token()
        now = self.engine.clock()
        expires = (now + self.token_ttl).isoformat()
        charge = form.capacity_kwh if form.charge_kwh is None else min(form.charge_kwh, form.capacity_kwh)

        def decide(state: ServerState) -> tuple[list[StreamAppend], None]:
            if cpf in state.by_login or form.email.lower() in state.by_login:
                raise Conflict("an account with this CPF or e-mail already exists", code="ACCOUNT_EXISTS")
            opened = ev.AccountOpened(
                vehicle_id=vehicle_id, owner=ev.Owner(name=form.name, email=form.email.lower(), cpf=cpf),
                vehicle=ev.VehicleData(plate=form.plate, model=form.model, capacity_kwh=form.capacity_kwh,
                                       consumption_kwh_per_km=form.consumption_kwh_per_km, charge_kwh=charge,
                                       max_ac_kw=form.max_ac_kw, max_dc_kw=form.max_dc_kw, profile=form.profile),
                password_hash=password_hash, broker_password_hash=broker_hash)
            events: list[ev.Event] = [opened, ev.TokenIssued(vehicle_id=vehicle_id, token_hash=token_hash(token),
                                                            expires_at=expires)]
            if form.initial_credit > 0:
                events.append(ev.CreditAdded(vehicle_id=vehicle_id, amount_cents=round(form.initial_credit * 100),
                                             request_id="signup"))
            return [ev.append(account_stream(vehicle_id), *events, expected_version=0)], None

        self.engine.execute(decide)
        return Session(vehicle_id, token, expires, vehicle_id, broker_login)

    async def login(self, login: str, password: str) -> Session:
        """Log in by CPF or e-mail: a new token, and the vehicle's broker login (the same on every device)."""
        ident = login.strip().lower()
        ident = digits(ident) if "@" not in ident else ident
        account = self.engine.read(lambda s: s.accounts.get(s.by_login.get(ident, "")))
        # Throttle per account (its CPF and e-mail share one budget), else per identifier tried.
        key = account.vehicle_id if account is not None else ident
        self._check_rate(key)
        if account is None or not await self._hashed(verify_password, password, account.password_hash):
            self._record_failure(key)
            raise Unauthorized("wrong login or password", code="BAD_CREDENTIALS")
        with self._failures_lock:
            self._failures.pop(key, None)
        account = _get(self.engine.state, account.vehicle_id)  # as it is now, after the wait for the hash
        token = new_token()
        expires = (self.engine.clock() + self.token_ttl).isoformat()
        issued = ev.TokenIssued(vehicle_id=account.vehicle_id, token_hash=token_hash(token), expires_at=expires)
        self.engine.execute(lambda s: ([ev.append(account_stream(issued.vehicle_id), issued)], None))
        return Session(account.vehicle_id, token, expires, account.vehicle_id,
                       broker_password(self.broker_key, account.vehicle_id, account.broker_generation))

    def revoke(self, vehicle_id: str) -> dict[str, Any]:
        """Operator: revoke every token and the broker login of a vehicle (its owner must log in again)."""
        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            acc = _get(state, vehicle_id)
            generation = acc.broker_generation + 1
            events: list[ev.Event] = [ev.TokenRevoked(vehicle_id=vehicle_id, token_hash=h) for h in acc.tokens]
            events.append(ev.BrokerCredentialsIssued(
                vehicle_id=vehicle_id, generation=generation,
                broker_password_hash=broker_password_hash(broker_password(self.broker_key, vehicle_id, generation))))
            return ([ev.append(account_stream(vehicle_id), *events)],
                    {"vehicle_id": vehicle_id, "tokens_revoked": len(acc.tokens), "broker_generation": generation})

        return self.engine.execute(decide)

    def logout(self, token: str) -> None:
        """Revoke a token."""
        vehicle_id = self.authenticate(token)
        revoked = ev.TokenRevoked(vehicle_id=vehicle_id, token_hash=token_hash(token))
        self.engine.execute(lambda s: ([ev.append(account_stream(vehicle_id), revoked)], None))

    def add_credit(self, vehicle_id: str, amount: float, request_id: str) -> dict[str, Any]:
        """Add credit once per request id; the answer to a repeated id is the first one (staged)."""
        cents = round(amount * 100)
        # No wait between this check and the append: on the event loop, nothing else runs in between.
        known = self.requests.answer(vehicle_id, request_id, "add_credit")
        if known is not None:
            return known

        def decide(state: ServerState) -> tuple[list[StreamAppend], dict[str, Any]]:
            acc = _get(state, vehicle_id)
            # No-show fees still owed are paid first, as far as the new credit goes (docs/booking.md "Money").
            paid = min(acc.owed_cents, acc.balance_cents + cents)
            reply = {"balance": (acc.balance_cents + cents - paid) / 100, "added": cents / 100}
            events: list[ev.Event] = [ev.CreditAdded(vehicle_id=vehicle_id, amount_cents=cents, request_id=request_id)]
            if paid > 0:
                events.append(ev.OwedFeesPaid(vehicle_id=vehicle_id, amount_cents=paid))
            return [ev.append(account_stream(vehicle_id), *events),
                    answered(vehicle_id, request_id, "add_credit", reply)], reply

        return self.engine.execute(decide)

    def update_vehicle(self, vehicle_id: str, changes: dict[str, Any]) -> None:
        """Record a change of the vehicle's charge or driving profile."""
        updated = ev.VehicleUpdated(vehicle_id=vehicle_id, changes=changes)
        self.engine.execute(lambda s: ([ev.append(account_stream(vehicle_id), updated)], None))

    # -- queries --------------------------------------------------------------------------------
    def authenticate(self, token: str) -> str:
        """The vehicle id of a valid, unexpired token, or Unauthorized."""
        digest = token_hash(token)
        now = self.engine.clock()

        def query(state: ServerState) -> str | None:
            vehicle_id = state.by_token.get(digest)
            if vehicle_id is None:
                return None
            return vehicle_id if parse_time(state.accounts[vehicle_id].tokens[digest]) > now else None

        vehicle_id = self.engine.read(query)
        if vehicle_id is None:
            raise Unauthorized("missing, unknown or expired token", code="BAD_TOKEN")
        return vehicle_id

    def view(self, vehicle_id: str) -> dict[str, Any]:
        """The account as its owner sees it: owner, vehicle, credit, statement (no secrets)."""
        def query(state: ServerState) -> dict[str, Any]:
            acc = _get(state, vehicle_id)
            return {"vehicle_id": acc.vehicle_id, "owner": dict(acc.owner), "vehicle": dict(acc.vehicle),
                    "balance": acc.balance_cents / 100, "owed": acc.owed_cents / 100,
                    "statement": list(acc.statement),
                    "trips": list(acc.trips), "opened_at": acc.opened_at}

        return self.engine.read(query)

    # -- login rate limit (in memory: a restart forgives, which is fine for a throttle) ----------------
    def _check_rate(self, key: str) -> None:
        with self._failures_lock:
            recent = [t for t in self._failures.get(key, []) if time.monotonic() - t < LOGIN_WINDOW_S]
            self._failures[key] = recent
            if len(recent) >= LOGIN_MAX_FAILURES:
                raise TooManyAttempts("too many failed logins; try again in a few minutes")

    def _record_failure(self, key: str) -> None:
        with self._failures_lock:
            self._failures.setdefault(key, []).append(time.monotonic())


def _hash_both(password: str, broker_login: str) -> tuple[str, str]:
    return hash_password(password), broker_password_hash(broker_login)


def _get(state: ServerState, vehicle_id: str) -> Account:
    acc = state.accounts.get(vehicle_id)
    if acc is None:
        raise NotFound(f"no account {vehicle_id!r} here", code="UNKNOWN_ACCOUNT")
    return acc
