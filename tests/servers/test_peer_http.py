"""The peer calls' HTTP client (servers/adapters/peer_http.py) against a server that answers as it is told."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from servers.adapters.peer_http import HttpError, HttpPool

Handler = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
Runs = Callable[[Awaitable[None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runs:
    """Run a test's coroutine on asyncio's loop, and on uvloop's (what the servers run: its transports differ)."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else None

    def run(main: Awaitable[None]) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main)  # type: ignore[arg-type]

    return run


def ok(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"content-length: {len(body)}", "content-type: application/json", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def serve(handler: Handler) -> tuple[asyncio.AbstractServer, str, list[int]]:
    """A server on a free loopback port; `handler(request head, reader, writer)` answers one request and says
    whether to keep the connection. The list counts connections accepted."""
    accepted: list[int] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if not await handler(head, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", accepted


def test_requests_share_a_kept_alive_connection_and_read_chunked_answers(run: Runs) -> None:
    async def handler(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if head.startswith(b"GET /chunked"):
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n")
        else:
            assert b"x-peer: voltpoint" in head.lower() and b"host: 127.0.0.1:" in head.lower()
            writer.write(ok(b'{"n":2}'))
        return True

    async def main() -> None:
        server, url, accepted = await serve(handler)
        pool = HttpPool("test")
        for _ in range(3):
            assert await pool.request(url, "POST", "/peer/v1/batch", {"X-Peer": "voltpoint"}, b"{}", 5) == \
                (200, b'{"n":2}')
        assert await pool.request(url, "GET", "/chunked", {}, b"", 5) == (200, b'{"a":1}')
        assert len(accepted) == 1  # one connection for all four
        await pool.close()
        server.close()

    run(main())


def test_a_connection_the_peer_closed_while_idle_is_replaced_and_the_request_sent_again(run: Runs) -> None:
    async def handler(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"1"))
        await writer.drain()
        return False  # closed after one answer, without saying so (as a server's idle timeout does)

    async def main() -> None:
        server, url, accepted = await serve(handler)
        pool = HttpPool("test")
        assert await pool.request(url, "GET", "/a", {}, b"", 5) == (200, b"1")
        await asyncio.sleep(0.05)
        assert await pool.request(url, "GET", "/b", {}, b"", 5) == (200, b"1")
        assert len(accepted) == 2
        await pool.close()
        server.close()

    run(main())


def test_connection_close_is_honoured(run: Runs) -> None:
    async def handler(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"1", "connection: close"))
        return True

    async def main() -> None:
        server, url, accepted = await serve(handler)
        pool = HttpPool("test")
        for _ in range(2):
            assert await pool.request(url, "GET", "/", {}, b"", 5) == (200, b"1")
        assert len(accepted) == 2
        await pool.close()
        server.close()

    run(main())


@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH\r\n\r\n",  # not HTTP
    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}",  # cut short, then closed
])
def test_what_is_not_a_whole_http_answer_is_an_error(answer: bytes, run: Runs) -> None:
    async def handler(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer)
        await writer.drain()
        return False

    async def main() -> None:
        server, url, _ = await serve(handler)
        pool = HttpPool("test")
        with pytest.raises(HttpError):
            await pool.request(url, "GET", "/", {}, b"", 5)
        server.close()

    run(main())


def test_a_peer_that_does_not_answer_times_out_and_nothing_listening_is_an_error(run: Runs) -> None:
    async def handler(head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async def main() -> None:
        server, url, _ = await serve(handler)
        pool = HttpPool("test")
        with pytest.raises(TimeoutError):
            await pool.request(url, "GET", "/", {}, b"", 0.1)
        server.close()
        await server.wait_closed()
        with pytest.raises(HttpError):
            await pool.request(url, "GET", "/", {}, b"", 5)
        with pytest.raises(HttpError):
            await pool.request("https://127.0.0.1:1", "GET", "/", {}, b"", 5)

    run(main())
