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

The gateway owns one of these (`VehicleLogins.connect(server)`); nothing here
needs the broker's host, files or process.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from events.model import RecordedEvent
from mosquitto import vehicle_acls
from mosquitto.dynsec import DynsecClient, DynsecRefused, DynsecUnavailable
from mosquitto.logins import BrokerLogins, DynsecLogins
from servers.bootstrap import Server
from servers.domain import event_types as T
from servers.domain.errors import Unavailable
from servers.service.secrets import broker_password

log = logging.getLogger(__name__)

_CREDENTIALS = {T.ACCOUNT_OPENED, T.BROKER_CREDENTIALS_ISSUED}
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
        # One background worker: events and syncs are applied in the order they come.
        self._work = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-logins")

    @classmethod
    def connect(cls, server: Server) -> VehicleLogins:
        """Over the plugin of the company's broker, with the server's own broker login (its admin)."""
        settings = server.settings
        port = settings.broker_port or server.network.company(server.company).broker_port
        client = DynsecClient(settings.broker_host, port, settings.broker_username, settings.broker_password,
                              client_id=f"server-{server.company}-logins")
        company = server.company
        return cls(server, DynsecLogins(client, lambda vehicle_id: vehicle_acls(company, vehicle_id)), client)

    def start(self) -> None:
        """Follow the log's credential events; connect, and sync everything on every (re)connect."""
        self.server.engine.subscribe(self._on_events)
        if self._client is not None:
            # paho's thread calls on_ready: the sync waits on answers that arrive on that thread.
            self._client.on_ready = lambda: self._background(self.sync)
            self._client.start()

    def stop(self) -> None:
        """Stop the worker and disconnect."""
        self._work.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.stop()

    def password(self, vehicle_id: str) -> str:
        """The vehicle's current broker password (its account's generation, derived from the key)."""
        generation = self.server.engine.read(lambda s: s.accounts[vehicle_id].broker_generation)
        return broker_password(self.server.settings.broker_key, vehicle_id, generation)

    def ensure(self, vehicle_id: str, timeout: float = ENSURE_TIMEOUT_S) -> None:
        """Return once the broker accepts the vehicle's current login."""
        try:
            self.logins.add({vehicle_id: self.password(vehicle_id)}, timeout)
        except (DynsecUnavailable, DynsecRefused) as exc:
            raise BrokerLoginUnavailable(f"the broker has not confirmed this vehicle's login yet ({exc}); "
                                         "log in again in a moment") from exc

    def sync(self) -> None:
        """Make the broker's vehicle logins exactly the log's accounts."""
        key = self.server.settings.broker_key
        generations = self.server.engine.read(lambda s: {vid: a.broker_generation for vid, a in s.accounts.items()})
        report = self.logins.sync_all({vid: broker_password(key, vid, g) for vid, g in generations.items()})
        log.info("broker logins synced: %d on the broker, %d added or changed, %d revoked",
                 report.on_broker, report.added, report.revoked)

    def _on_events(self, recorded: Sequence[RecordedEvent]) -> None:
        # The committing thread calls this: only hand the work over.
        changed = [e.data["vehicle_id"] for e in recorded if e.type in _CREDENTIALS]
        if changed:
            self._background(lambda: self.logins.add({vid: self.password(vid) for vid in changed}))

    def _background(self, job: Callable[[], object]) -> None:
        def run() -> None:
            try:
                job()
            except Exception as exc:  # the next event or reconnect tries again
                log.warning("broker logins: %s", exc)

        with contextlib.suppress(RuntimeError):  # shutting down
            self._work.submit(run)
