"""Vehicles' broker logins, kept in step with the log: a new login must work before its owner is answered.

`BrokerLogins` is the seam; `PasswordFileLogins` writes every vehicle's hash
into the broker's password file and sends it SIGHUP (the broker must run on
this host). Sign-ups arriving together share one rewrite and one reload. A
SIGHUP only asks Mosquitto to reload when it next can, so the rewrite is done
only once the broker accepts a login from it (a probe connection).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from events.model import RecordedEvent
from mosquitto.passwords import PasswordFile
from servers.bootstrap import Server
from servers.contract.mqtt import new_client
from servers.contract.mqtt_loop import ConnectRefused, LoopMqtt
from servers.domain import event_types as T
from servers.service.secrets import broker_password

log = logging.getLogger(__name__)
CREDENTIALS = {T.ACCOUNT_OPENED, T.BROKER_CREDENTIALS_ISSUED}


class BrokerLogins(Protocol):
    """Makes the broker accept the logins the log holds."""

    async def start(self) -> None:
        """Bring the broker in step with the log (at start)."""
        ...

    async def ensure(self, vehicle_id: str) -> None:
        """Return once the broker accepts this vehicle's current login."""
        ...


class PasswordFileLogins:
    """Logins through Mosquitto's password file and a SIGHUP (the broker on this host)."""

    def __init__(self, server: Server, password_file: Path | None, pid_file: Path | None) -> None:
        self.server = server
        self.password_file = password_file
        self.pid_file = pid_file
        self._waiting: list[asyncio.Future[None]] = []
        self._running: asyncio.Task[None] | None = None
        self._probe: str | None = None  # a vehicle whose new login proves that the broker has reloaded

    async def start(self) -> None:
        await self._sync_once()
        # A revoke (a new broker password) must reach the broker even though nobody waits for it.
        self.server.engine.subscribe(self._on_durable)

    async def ensure(self, vehicle_id: str) -> None:
        if self.password_file is None:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._probe = vehicle_id
        self._kick()
        await future

    def _on_durable(self, events: Sequence[RecordedEvent]) -> None:
        if any(e.type in CREDENTIALS for e in events):
            self._waiting.append(asyncio.get_running_loop().create_future())
            self._kick()

    def _kick(self) -> None:
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._sync_while_waited())

    async def _sync_while_waited(self) -> None:
        """One rewrite for every login asked for since the last one started."""
        while self._waiting:
            waiting, self._waiting = self._waiting, []
            probe, self._probe = self._probe, None
            try:
                await self._sync_once(probe)
            except Exception as exc:  # the caller is told; the next sign-up tries again
                for future in waiting:
                    future.set_exception(exc)
            else:
                for future in waiting:
                    future.set_result(None)

    async def _sync_once(self, probe: str | None = None) -> None:
        if self.password_file is None:
            return
        hashes = {a.vehicle_id: a.broker_password_hash for a in self.server.engine.state.accounts.values()}
        changed = await asyncio.to_thread(PasswordFile(self.password_file).set_hashes, hashes)
        if not changed or self.pid_file is None:
            return
        try:
            os.kill(int(self.pid_file.read_text().strip()), signal.SIGHUP)
        except (OSError, ValueError) as exc:
            log.warning("could not reload the broker: %s", exc)
            return
        account = self.server.engine.state.accounts.get(probe or "")
        if account is not None:
            password = broker_password(self.server.settings.broker_key, account.vehicle_id,
                                       account.broker_generation)
            await self._until_accepted(account.vehicle_id, password)

    async def _until_accepted(self, username: str, password: str, timeout: float = 5.0) -> None:
        """Probe the broker with a login from the new file until it is accepted (it has reloaded)."""
        settings = self.server.settings
        port = settings.broker_port or self.server.network.company(self.server.company).broker_port
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            client = new_client(f"{username}-probe", username, password)
            mqtt = LoopMqtt(client, reconnect=False)
            try:
                await mqtt.connect(settings.broker_host, port, timeout=1.0)
                return
            except (ConnectRefused, OSError):
                if asyncio.get_running_loop().time() > deadline:
                    log.warning("the broker did not accept %s's new login within %g s", username, timeout)
                    return
                await asyncio.sleep(0.005)
            finally:
                await mqtt.disconnect()
