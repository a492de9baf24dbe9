"""Vehicles' broker logins, kept equal to the accounts in the log, over the broker's dynamic-security plugin.

The server derives each vehicle's broker password from its key and the
account's generation (`secrets.broker_password`), so it can hand the plugin
the plaintext it needs without ever storing one. Three paths:

- `ensure(vehicle_id)`: before a sign-up or login reply goes out; returns once
  the broker accepts that login (or raises `BrokerLoginUnavailable`).
- new `AccountOpened` / `BrokerCredentialsIssued` events (REST sign-ups,
  revocations): applied in the background, in order.
- every (re)connect to the broker: one full sync, which sends only what
  differs (a restarted broker that lost its file gets everything back).

The plugin's client (`mosquitto.dynsec.DynsecClient`) runs on a thread of its
own and its calls block; the server's state lives on its event loop. So the
passwords are always worked out on the loop, and only the calls to the broker
go to threads — concurrent ones, so that the client batches a burst of
sign-ups into a few messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from events.model import RecordedEvent
from mosquitto import vehicle_acls
from mosquitto.dynsec import DynsecClient, DynsecRefused, DynsecUnavailable
from mosquitto.logins import BrokerLogins, DynsecLogins
from servers.bookings import events as ev
from servers.bookings.errors import Unavailable
from servers.bootstrap import Server
from servers.service.secrets import broker_password

log = logging.getLogger(__name__)

_CREDENTIALS = {ev.AccountOpened.NAME, ev.BrokerCredentialsIssued.NAME}
ENSURE_TIMEOUT_S = 10.0


class BrokerLoginUnavailable(Unavailable):
    """The broker did not confirm the vehicle's login in time; the account exists, log in again later."""

    code = "BROKER_LOGIN_PENDING"


class VehicleLogins:
    """Keeps the company broker's vehicle logins equal to the accounts of the log."""

    def __init__(self, server: Server, logins: BrokerLogins, client: DynsecClient | None = None) -> None:
        self.server = server
        self.logins = logins
        self._client = client
        # Background work (events, syncs) on one thread, in the order it comes; `ensure` calls run beside it.
        self._work = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-logins")
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def connect(cls, server: Server) -> VehicleLogins:
        """Over the plugin of the company's broker, with the server's own broker login (its admin)."""
        settings = server.settings
        port = settings.broker_port or server.network.company(server.company).broker_port
        client = DynsecClient(settings.broker_host, port, settings.broker_username, settings.broker_password,
                              client_id=f"server-{server.company}-logins")
        company = server.company
        return cls(server, DynsecLogins(client, lambda vehicle_id: vehicle_acls(company, vehicle_id)), client)

    async def start(self) -> None:
        """Follow the log's credential events; connect, and sync everything on every (re)connect."""
        self._loop = asyncio.get_running_loop()
        self.server.engine.subscribe(self._on_events)
        if self._client is not None:
            loop = self._loop

            def on_ready() -> None:  # on paho's thread: the passwords are worked out on the loop
                loop.call_soon_threadsafe(self._sync_soon)

            self._client.on_ready = on_ready
            self._client.start()

    async def stop(self) -> None:
        """Stop the worker and disconnect."""
        self._work.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            await asyncio.to_thread(self._client.stop)

    def passwords(self, vehicle_ids: Sequence[str]) -> dict[str, str]:
        """The current broker password of each vehicle (its account's generation, derived from the key)."""
        accounts, key = self.server.engine.state.accounts, self.server.settings.broker_key
        return {v: broker_password(key, v, accounts[v].broker_generation) for v in vehicle_ids if v in accounts}

    async def ensure(self, vehicle_id: str, timeout: float = ENSURE_TIMEOUT_S) -> None:
        """Return once the broker accepts the vehicle's current login."""
        try:
            await asyncio.to_thread(self.logins.add, self.passwords([vehicle_id]), timeout)
        except (DynsecUnavailable, DynsecRefused) as exc:
            raise BrokerLoginUnavailable(f"the broker has not confirmed this vehicle's login yet ({exc}); "
                                         "log in again in a moment") from exc

    def _sync_soon(self) -> None:
        self._background(self.logins.sync_all, self.passwords(list(self.server.engine.state.accounts)))

    def _on_events(self, recorded: Sequence[RecordedEvent]) -> None:
        changed = [e.data["vehicle_id"] for e in recorded if e.type in _CREDENTIALS]
        if changed:
            self._background(self.logins.add, self.passwords(changed))

    def _background(self, call: Callable[[dict[str, str]], object], logins: dict[str, str]) -> None:
        def run() -> None:
            try:
                call(logins)
            except Exception as exc:  # the next event or reconnect tries again
                log.warning("broker logins: %s", exc)

        with contextlib.suppress(RuntimeError):  # shutting down
            self._work.submit(run)
