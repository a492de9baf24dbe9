"""A driver's session at its home company: sign up or log in on the sign-up channel, then vehicle requests.

Every user action is one request id; a request that times out is sent once
more with the SAME id (the server answers a repeated id with its first
answer and never acts twice), then the timeout is the caller's to report.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from .client import SignupClient, VehicleClient
from .config import Endpoint
from .errors import RequestTimeout

#: Seconds to wait for most replies; booking plans and runs a two-phase commit across companies.
DEFAULT_TIMEOUT = 10.0
BOOK_TIMEOUT = 30.0


def call(client: SignupClient | VehicleClient, op: str, timeout: float = DEFAULT_TIMEOUT,
         *, request_id: str | None = None, **args: Any) -> Any:
    """`client.request(op, **args)` with one retry on timeout under the same request id."""
    rid = request_id or uuid.uuid4().hex
    try:
        return client.request(op, timeout, request_id=rid, **args)
    except RequestTimeout:
        return client.request(op, timeout, request_id=rid, **args)


def signup_channel(endpoint: Endpoint) -> SignupClient:
    """A connected client on the company's shared sign-up login (close it when done)."""
    client = SignupClient(endpoint.broker_host, endpoint.broker_port, endpoint.company,
                          endpoint.signup_username, endpoint.signup_password)
    client.connect(timeout=DEFAULT_TIMEOUT)
    return client


def fake_form(endpoint: Endpoint, seed: int | None = None) -> dict[str, Any]:
    """A Faker-filled sign-up form from the server (`fake` op): the fields of SignupIn."""
    args: dict[str, Any] = {} if seed is None else {"seed": seed}
    with signup_channel(endpoint) as channel:
        form = call(channel, "fake", **args)
    return dict(form)


class VehicleSession:
    """A logged-in vehicle: its broker connection and token, and the account's ids."""

    def __init__(self, endpoint: Endpoint, login: dict[str, Any], *, resend_interval: float | None = None) -> None:
        """Connect with the broker login a sign-up or login result carries; ConnectFailed when refused."""
        self.endpoint = endpoint
        self.vehicle_id = str(login["vehicle_id"])
        self.token = str(login["token"])
        self.expires_at = str(login.get("expires_at", ""))
        broker = login["broker"]
        self.client = VehicleClient(endpoint.broker_host, endpoint.broker_port, endpoint.company,
                                    self.vehicle_id, str(broker["username"]), str(broker["password"]),
                                    resend_interval=resend_interval)
        self.client.connect(timeout=DEFAULT_TIMEOUT)
        self.client.token = self.token

    @classmethod
    def signup(cls, endpoint: Endpoint, form: dict[str, Any], **kwargs: Any) -> VehicleSession:
        """Open an account with `form` (SignupIn fields) and start its session; ReplyError when refused."""
        with signup_channel(endpoint) as channel:
            login = call(channel, "signup", **form)
        return cls(endpoint, login, **kwargs)

    @classmethod
    def login(cls, endpoint: Endpoint, login: str, password: str, **kwargs: Any) -> VehicleSession:
        """Log in by CPF or e-mail and start the session; ReplyError BAD_CREDENTIALS when wrong."""
        with signup_channel(endpoint) as channel:
            result = call(channel, "login", login=login, password=password)
        return cls(endpoint, result, **kwargs)

    def request(self, op: str, timeout: float = DEFAULT_TIMEOUT, **args: Any) -> Any:
        """One user action: the reply's result, ReplyError on an error reply (retried once on timeout)."""
        return call(self.client, op, timeout, **args)

    def account(self) -> dict[str, Any]:
        """The account as its owner sees it."""
        return dict(self.request("account"))

    def close(self, *, logout: bool = True) -> None:
        """End the session (ask the server to forget the token first, best effort) and disconnect."""
        if logout and self.client.is_connected:
            # Leaving anyway: a lost logout only leaves a token that expires by itself.
            with contextlib.suppress(Exception):
                self.client.request("logout", 3.0, token=self.token)
        self.client.close()

    def __enter__(self) -> VehicleSession:
        """The session itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the session."""
        self.close()
