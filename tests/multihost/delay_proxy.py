"""A TCP proxy that delays every byte by a set time each way: latency between hosts without netem.

The kernel here has no `netem` qdisc, so the round trip between two
companies is stretched in user space: each company's server reaches each
peer through its own `DelayProxy` (one per ordered pair), which forwards
every chunk after `rtt_s / 2` in each direction, keeping the byte order.
All proxies run on one asyncio loop in one background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field


@dataclass
class DelayProxy:
    """Listens on `listen`, forwards to `target`; `rtt_s` (settable at any time) is added to each round trip."""

    listen: tuple[str, int]
    target: tuple[str, int]
    rtt_s: float = 0.0
    source_address: str | None = None  # the address outgoing connections come from (the partition rules use it)
    bytes_forwarded: int = 0
    connections: int = 0
    _server: asyncio.base_events.Server | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, *self.listen, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        local = (self.source_address, 0) if self.source_address else None
        try:
            server_r, server_w = await asyncio.wait_for(
                asyncio.open_connection(*self.target, local_addr=local), 10)
        except (OSError, TimeoutError):
            client_w.close()
            return
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction, each chunk released `rtt_s / 2` after it arrived, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()
                self.bytes_forwarded += len(chunk)

        sender = asyncio.create_task(send())
        try:
            while True:
                chunk = await reader.read(65536)
                await queue.put((time.monotonic() + self.rtt_s / 2, chunk))
                if not chunk:
                    break
            await sender
        except (OSError, asyncio.CancelledError):
            sender.cancel()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


class ProxyLoop:
    """The background thread and asyncio loop the proxies run on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: list[DelayProxy] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="delay-proxies", daemon=True)
        self._thread.start()

    def add(self, proxy: DelayProxy) -> DelayProxy:
        asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(10)
        self.proxies.append(proxy)
        return proxy

    def close(self) -> None:
        """Stop listening, end every connection still open, stop the loop."""
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(proxy.stop(), self.loop).result(5)
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_all() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
