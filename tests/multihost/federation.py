"""The whole federation with every company on a host of its own, and delay proxies between the companies.

Each company's broker and server run in its namespace (`netns.HostNetwork`)
at its own address; each server reaches each peer through a `DelayProxy` of
that ordered pair (10.A.B.2:port → the peer's address), so latency can be set
per pair at run time and a partition can cut the peer traffic while clients
(10.A.B.1) still get through. Used by tests/multihost and bench/multihost.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from federation.launcher import LocalNetwork
from mosquitto import free_port
from tests.multihost.delay_proxy import DelayProxy, ProxyLoop
from tests.multihost.netns import HostNetwork, sweep_stale


@dataclass
class Federation:
    """The hosts, the proxies between them ({(from, to): proxy}) and the launched processes."""

    hosts: HostNetwork
    proxies: dict[tuple[str, str], DelayProxy]
    net: LocalNetwork

    def set_rtt(self, rtt_s: float | dict[tuple[str, str], float]) -> None:
        """Add `rtt_s` to every round trip between companies (one figure, or one per unordered pair)."""
        for (a, b), proxy in self.proxies.items():
            if isinstance(rtt_s, dict):
                proxy.rtt_s = rtt_s.get((a, b), rtt_s.get((b, a), 0.0))
            else:
                proxy.rtt_s = rtt_s

    def random_rtts(self, rng: random.Random, low_s: float, high_s: float) -> dict[tuple[str, str], float]:
        """A round trip for every pair of companies, uniform in [low_s, high_s]; set and returned."""
        names = list(self.net.companies)
        rtts = {(a, b): rng.uniform(low_s, high_s) for i, a in enumerate(names) for b in names[i + 1:]}
        self.set_rtt(rtts)
        return rtts


@contextmanager
def federation(run_dir: Path, env: dict[str, str] | None = None) -> Iterator[Federation]:
    """Make the hosts and proxies, start every broker and server; remove all of it on the way out."""
    sweep_stale()
    net: LocalNetwork | None = None
    loop = ProxyLoop()
    try:
        probe = LocalNetwork(run_dir)  # only for the company ids and ports of the network file
        names = list(probe.companies)
        with HostNetwork(names) as hosts:
            proxies: dict[tuple[str, str], DelayProxy] = {}
            urls: dict[str, dict[str, str]] = {}
            for a in names:
                for b in names:
                    if a == b:
                        continue
                    port = free_port(hosts.proxy_address)
                    target = (hosts.address(b), probe.companies[b].api_port)
                    proxies[(a, b)] = loop.add(DelayProxy((hosts.proxy_address, port), target,
                                                          source_address=hosts.proxy_address))
                    urls.setdefault(a, {})[b] = f"http://{hosts.proxy_address}:{port}"
            net = LocalNetwork(run_dir, mqtt=True, env=dict(env or {}),
                               hosts={n: hosts.host(n) for n in names}, peer_urls=urls)
            net.start(timeout=60)
            try:
                yield Federation(hosts, proxies, net)
            finally:
                net.stop()
    finally:
        loop.close()
