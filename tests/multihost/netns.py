"""Hosts made of Linux network namespaces: one per company, each with its own address on one bridge.

    root namespace (vehicles, the test, the delay proxies)
      rcb<pid>  bridge   10.A.B.1 (clients)   10.A.B.2 (the inter-company proxies)
        ├─ veth ── namespace recarga-<pid>-voltpoint   eth0 10.A.B.11
        ├─ veth ── namespace recarga-<pid>-eflux       eth0 10.A.B.12
        └─ veth ── namespace recarga-<pid>-ecocharge   eth0 10.A.B.13

Needs root, iproute2 (`ip netns`) and, for partitions, nftables (`nft`).
Names carry the test process's id, so a run never touches another run's
namespaces, and `sweep_stale()` removes those of runs that died without
cleaning up. `close()` removes everything this object made, and is safe to
call twice or after a half-done `open()`.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from federation.launcher import Host

PREFIX = "recarga"
PARTITION_TABLE = "recarga_partition"


class NetnsError(RuntimeError):
    """An `ip` or `nft` command failed."""


def run(*args: str, input: str | None = None) -> str:
    """Run a command; its stdout, or NetnsError with its stderr."""
    done = subprocess.run(args, input=input, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def why_unavailable(*, partitions: bool = True) -> str | None:
    """Why namespaces cannot be made here (a reason for pytest.skip), or None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "making network namespaces, veths and a bridge needs root (run the tests as root, as CI does)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is missing (Debian: apt-get install iproute2; `make test` does it as root)"
    if partitions and shutil.which("nft") is None:
        return "nftables' `nft` is missing (Debian: apt-get install nftables; `make test` does it as root)"
    probe = f"{PREFIX}-probe-{os.getpid()}"
    try:
        run("ip", "netns", "add", probe)
    except NetnsError as exc:
        return f"`ip netns add` does not work here: {exc}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete namespaces and bridges left by runs whose process is gone; return their names."""
    removed = []
    for line in run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if len(parts) >= 3 and parts[0] == PREFIX and parts[1].isdigit() and not _alive(int(parts[1])):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            subprocess.run(["ip", "link", "del", f"rcb{parts[1]}"], capture_output=True)
            removed.append(name)
    return removed


def _free_subnet() -> ipaddress.IPv4Network:
    used = [ipaddress.ip_network(word, strict=False) for line in run("ip", "-4", "route").splitlines()
            for word in line.split()[:1] if "/" in word]
    rng = random.Random(os.getpid())
    for _ in range(200):
        subnet = ipaddress.IPv4Network(f"10.{rng.randrange(100, 250)}.{rng.randrange(0, 250)}.0/24")
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise NetnsError("no free 10.x.y.0/24 for the test hosts")


@dataclass
class HostNetwork:
    """A bridge in the root namespace and one namespace per name, each reachable at its own address."""

    names: Sequence[str]
    tag: str = field(default_factory=lambda: str(os.getpid()))
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    _made_links: list[str] = field(default_factory=list)
    _made_namespaces: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"rcb{self.tag}"

    @property
    def client_address(self) -> str:
        """The root namespace's address on the bridge: vehicles and the test come from here."""
        return str(self.subnet[1])

    @property
    def proxy_address(self) -> str:
        """A second root address, only for the inter-company delay proxies (a partition can tell them apart)."""
        return str(self.subnet[2])

    def namespace(self, name: str) -> str:
        return f"{PREFIX}-{self.tag}-{name}"

    def address(self, name: str) -> str:
        return str(self.subnet[11 + list(self.names).index(name)])

    def veth(self, name: str) -> str:
        """The root-side end of the namespace's cable (`ip link set … down` pulls it)."""
        return f"rcv{self.tag}x{list(self.names).index(name)}"

    def host(self, name: str) -> Host:
        """The launcher's view: its address, and `ip netns exec` (which execs, so pids are the real ones)."""
        return Host(self.address(name), ("ip", "netns", "exec", self.namespace(name)))

    # -- making and removing ----------------------------------------------------------------------
    def open(self) -> HostNetwork:
        """Make the bridge, the namespaces and their cables; undo all of it if any step fails."""
        try:
            prefix = self.subnet.prefixlen
            run("ip", "link", "add", self.bridge, "type", "bridge")
            self._made_links.append(self.bridge)
            run("ip", "addr", "add", f"{self.client_address}/{prefix}", "dev", self.bridge)
            run("ip", "addr", "add", f"{self.proxy_address}/{prefix}", "dev", self.bridge)
            run("ip", "link", "set", self.bridge, "up")
            for i, name in enumerate(self.names):
                ns, outside, inside = self.namespace(name), self.veth(name), f"rcp{self.tag}x{i}"
                run("ip", "netns", "add", ns)
                self._made_namespaces.append(ns)
                run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
                self._made_links.append(outside)
                run("ip", "link", "set", inside, "netns", ns)
                run("ip", "link", "set", outside, "master", self.bridge)
                run("ip", "link", "set", outside, "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
                run("ip", "-n", ns, "link", "set", inside, "name", "eth0")
                run("ip", "-n", ns, "addr", "add", f"{self.address(name)}/{prefix}", "dev", "eth0")
                run("ip", "-n", ns, "link", "set", "eth0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Remove the namespaces (their processes' sockets and nft rules go with them) and the links."""
        for ns in reversed(self._made_namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for link in reversed(self._made_links):
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        self._made_namespaces.clear()
        self._made_links.clear()

    def __enter__(self) -> HostNetwork:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults -------------------------------------------------------------------------------------
    def cut(self, name: str) -> None:
        """Partition `name` from the other companies (and from the proxies between them); clients still reach it.

        nftables in the company's own namespace drops, both ways, every packet
        from or to another company's address or the proxies' address: TCP
        connections hang as on a real partition, nothing is refused.
        """
        others = [self.address(n) for n in self.names if n != name] + [self.proxy_address]
        peers = ", ".join(others)
        hook = "type filter hook {} priority 0; policy accept;"
        rules = (f"table inet {PARTITION_TABLE} {{\n"
                 f"  chain input {{ {hook.format('input')} ip saddr {{ {peers} }} drop; }}\n"
                 f"  chain output {{ {hook.format('output')} ip daddr {{ {peers} }} drop; }}\n"
                 "}\n")
        run("ip", "netns", "exec", self.namespace(name), "nft", "-f", "-", input=rules)

    def heal(self, name: str) -> None:
        """Remove the partition of `name` (no error if there is none)."""
        subprocess.run(["ip", "netns", "exec", self.namespace(name), "nft", "delete", "table", "inet",
                        PARTITION_TABLE], capture_output=True)

    def is_cut(self, name: str) -> bool:
        out = run("ip", "netns", "exec", self.namespace(name), "nft", "list", "tables")
        return PARTITION_TABLE in out

    def unplug(self, name: str) -> None:
        """Pull the namespace's cable: nobody reaches it, not even clients."""
        run("ip", "link", "set", self.veth(name), "down")

    def plug(self, name: str) -> None:
        run("ip", "link", "set", self.veth(name), "up")
