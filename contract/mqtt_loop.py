"""A paho-mqtt client driven by an asyncio event loop: no network thread, callbacks on the loop.

paho's own `loop_start()` runs a thread per client and hands every message
across threads; a server (or a load generator with a thousand vehicles) then
spends its CPU switching between them. Here the loop watches the client's
socket (`add_reader`/`add_writer`) and calls paho's `loop_read`/`loop_write`,
as paho's "external event loop" interface intends, so `on_message` runs on the
loop and `publish` from the loop needs no lock. A small task calls `loop_misc`
every second (keep-alive pings) and reconnects after a drop.

`connect` opens the TCP connection synchronously (what paho does): fine for
a broker on this host or LAN; the wait for CONNACK is asynchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

from contract.mqtt import set_tcp_nodelay

log = logging.getLogger(__name__)

# Packets handled per readiness of the socket, at most. paho's `loop_read` handles one packet per call when it
# has nothing in flight, so a burst of requests would otherwise be taken in one per turn of the event loop — each
# turn also running every task that is ready — and the last of a burst would wait for hundreds of turns before
# it is even seen (measured: 300 requests at once, the first handled ~130 ms after it arrived).
READ_BURST = 256

class ConnectRefused(ConnectionError):
    """The broker refused the login, or did not answer the CONNECT in time."""


class LoopMqtt:
    """Runs one paho client on the running event loop; set the client's callbacks before `connect`."""

    def __init__(self, client: mqtt.Client, *, reconnect: bool = True, misc_period_s: float = 1.0) -> None:
        self.client = client
        self.reconnect = reconnect
        self.misc_period_s = misc_period_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._misc: asyncio.Task[None] | None = None
        self._connack: asyncio.Future[None] | None = None
        self._closing = False
        self.connected = False
        self._user_on_connect: Any = client.on_connect  # paho types its callbacks per API version
        self._user_on_disconnect: Any = client.on_disconnect
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    async def connect(self, host: str, port: int, *, keepalive: int = 30, clean_start: bool = True,
                      properties: Properties | None = None, timeout: float = 10.0) -> None:
        """Connect and wait for the broker's CONNACK; ConnectRefused or OSError if that fails."""
        self._loop = asyncio.get_running_loop()
        self._connack = self._loop.create_future()
        if self._misc is None:  # from now on, a drop (or this connect failing) is retried every period
            self._misc = self._loop.create_task(self._housekeeping())
        self.client.connect(host, port, keepalive, clean_start=clean_start, properties=properties)
        try:
            await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        except TimeoutError:
            raise ConnectRefused(f"no CONNACK from {host}:{port} within {timeout:g} s") from None

    async def disconnect(self) -> None:
        """Disconnect cleanly and stop housekeeping."""
        self._closing = True
        with contextlib.suppress(Exception):
            self.client.disconnect()
            self.client.loop_write()
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc
            self._misc = None
        sock = self.client.socket()
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    # -- paho's external-loop callbacks -----------------------------------------------------------
    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        set_tcp_nodelay(sock)
        assert self._loop is not None
        self._loop.add_reader(sock, self._read)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.add_writer(sock, self._write)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_writer(sock)

    def _read(self) -> None:
        for _ in range(READ_BURST):
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS or not self._more_to_read():
                return

    def _more_to_read(self) -> bool:
        """Whether the socket holds more bytes now (a peek: nothing is consumed, nothing waits)."""
        sock = self.client.socket()
        if isinstance(sock, ssl.SSLSocket):
            return sock.pending() > 0
        if not isinstance(sock, socket.socket):
            return False  # closed, or a transport this cannot peek into: the next readiness reads on
        try:
            return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:  # BlockingIOError (nothing there) included; a real error shows at the next read
            return False

    def _write(self) -> None:
        self.client.loop_write()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        failed = bool(getattr(reason, "is_failure", False))
        self.connected = not failed
        if self._connack is not None and not self._connack.done():
            if failed:
                self._connack.set_exception(ConnectRefused(f"the broker refused the login: {reason}"))
            else:
                self._connack.set_result(None)
        if self._user_on_connect is not None:
            self._user_on_connect(client, userdata, flags, reason, props)

    def _on_disconnect(self, client: mqtt.Client, *args: Any) -> None:
        self.connected = False
        if self._user_on_disconnect is not None:
            self._user_on_disconnect(client, *args)

    async def _housekeeping(self) -> None:
        """Keep-alive pings; after a drop, reconnect once a period (paho resends what is unacknowledged)."""
        while True:
            await asyncio.sleep(self.misc_period_s)
            if self.client.socket() is not None:
                self.client.loop_misc()
            elif self.reconnect and not self._closing:
                try:
                    self.client.reconnect()
                except OSError as exc:
                    log.debug("reconnect failed: %s", exc)
