"""The HTTP/1.1 client of the peer calls: kept-alive connections, one request each at a time, parsed in C.

Servers call each other with a few request shapes (`POST /peer/v1/batch`, the occupancy long poll), thousands of
times a minute; a general client's per-request machinery (aiohttp's request and response objects, its
timers and multidicts) cost as much CPU as the peer spent answering. Here a request is one buffer written to a
kept-alive connection, and the response is parsed by `httptools` (llhttp, what uvicorn parses requests with):
status, `Connection`, body — chunked or not. A request that fails on a connection the peer may have closed
while it sat idle is sent once more on a new one (every peer operation is idempotent: a retried prepare gets the
first vote).
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import urlsplit

import httptools

IDLE_S = 30.0  # an idle connection is dropped before the peer's server would close it (uvicorn: 60 s)
MAX_IDLE = 16  # idle connections kept per peer


class HttpError(Exception):
    """No HTTP answer: the connection failed, was closed, timed out, or the answer was not HTTP."""


class _Connection(asyncio.Protocol):
    """One connection: a request is written whole; its response completes a future."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reused = False  # it has answered a request before (so it may have been closed by the peer meanwhile)
        self.last_used = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._close = False  # the peer will close it after this answer (`Connection: close`, HTTP/1.0)
        self._received = False  # bytes of the current response arrived

    # -- asyncio.Protocol ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's transports are not asyncio's classes)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(HttpError(f"connection closed{f': {exc}' if exc else ''}"))

    # -- httptools callbacks ---------------------------------------------------------------------------------
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self._close = True
        waiter, self._waiter = self._waiter, None
        body, self._body = b"".join(self._body), []
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), body))

    # -- use ---------------------------------------------------------------------------------------------------
    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing() and not self._close

    @property
    def received(self) -> bool:
        """Bytes of the answer to the current request have arrived (a failure then is not an idle close)."""
        return self._received

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write a whole request; the future of its (status, body)."""
        assert self.transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self._received = False
        self.transport.write(request)
        return self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: HttpError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()


class HttpPool:
    """Kept-alive connections to every peer, by base URL (`http://host:port`)."""

    def __init__(self, user_agent: str) -> None:
        self.user_agent = user_agent
        self._idle: dict[str, list[_Connection]] = {}
        self._hosts: dict[str, tuple[str, int, str]] = {}  # base URL -> (host, port, Host header)

    async def request(self, base_url: str, method: str, path: str, headers: dict[str, str], body: bytes,
                      timeout_s: float) -> tuple[int, bytes]:
        """Send one request; (status, body), or HttpError (TimeoutError when it took longer than `timeout_s`)."""
        host, port, host_header = self._host(base_url)
        head = [f"{method} {path} HTTP/1.1", f"Host: {host_header}", f"User-Agent: {self.user_agent}",
                f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(timeout_s):
            while True:
                connection = await self._acquire(base_url, host, port)
                try:
                    answer = await connection.send(request)
                except HttpError:
                    if connection.reused and not connection.received:  # closed by the peer while idle: again
                        continue
                    raise
                except BaseException:  # a timeout or a cancel mid-answer: the connection cannot be reused
                    connection.close()
                    raise
                self._release(base_url, connection)
                return answer

    async def close(self) -> None:
        """Close every idle connection."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _host(self, base_url: str) -> tuple[str, int, str]:
        found = self._hosts.get(base_url)
        if found is None:
            url = urlsplit(base_url)
            if url.scheme != "http" or url.hostname is None:
                raise HttpError(f"unsupported peer address {base_url!r} (http://host:port)")
            port = url.port or 80
            found = self._hosts[base_url] = (url.hostname, port, url.netloc)
        return found

    async def _acquire(self, base_url: str, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(base_url, [])
        while idle:
            connection = idle.pop()
            if connection.open and loop.time() - connection.last_used < IDLE_S:
                connection.reused = True
                return connection
            connection.close()
        try:
            _, connection = await loop.create_connection(_Connection, host, port)
        except OSError as exc:
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from exc
        return connection

    def _release(self, base_url: str, connection: _Connection) -> None:
        idle = self._idle.setdefault(base_url, [])
        if connection.open and len(idle) < MAX_IDLE:
            connection.last_used = asyncio.get_running_loop().time()
            idle.append(connection)
        else:
            connection.close()
