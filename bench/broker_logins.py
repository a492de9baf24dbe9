"""What a vehicle's broker login costs through the dynamic-security plugin, by hand: `python bench/broker_logins.py`.

One Mosquitto with the plugin (as the servers run it). For a growing number
of vehicles already on the broker it measures:

- one sign-up alone: `DynsecLogins.add` of one login (createRole + createClient
  in one message) until the broker has answered;
- a burst of 50 sign-ups from 50 threads at once: the wall time, and how many
  messages carried them (the batching);
- a full sync by a restarted server when nothing changed (it reads every login, a page at a time).

The plugin rewrites its whole JSON file after every changing command, so the
per-login cost grows with the number of logins on the broker.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mosquitto import AclFile, BrokerProcess, PasswordFile, vehicle_acls  # noqa: E402
from mosquitto.dynsec import DynsecClient  # noqa: E402
from mosquitto.logins import DynsecLogins  # noqa: E402


def burst(logins: DynsecLogins, n: int) -> tuple[float, int, dict[str, str]]:
    """n sign-ups from n threads at once: seconds until the last is confirmed, messages sent, the logins."""
    batch = {f"b{uuid.uuid4().hex[:11]}": uuid.uuid4().hex for _ in range(n)}
    gate = threading.Barrier(n + 1)

    def one(name: str) -> None:
        gate.wait()
        logins.add({name: batch[name]}, timeout=120)

    threads = [threading.Thread(target=one, args=(name,)) for name in batch]
    for t in threads:
        t.start()
    before = logins.client.messages_sent
    gate.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, logins.client.messages_sent - before, batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,5000,10000", help="vehicles on the broker at each step")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"broker logins: {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, "
          f"Python {platform.python_version()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="recarga-logins-") as tmp:
        broker = BrokerProcess(Path(tmp) / "broker", dynsec=True)
        PasswordFile(broker.password_file).set_many({"server": "s"})
        AclFile("bench", dynsec=True).write(broker.acl_file)
        with broker:
            client = DynsecClient("127.0.0.1", broker.port, "server", "s").start()
            logins = DynsecLogins(client, lambda v: vehicle_acls("bench", v))
            everyone: dict[str, str] = {}
            try:
                for size in sizes:
                    while len(everyone) < size:  # fill in batches of 100 (one message each)
                        more = {f"v{len(everyone) + i:07d}": uuid.uuid4().hex
                                for i in range(min(100, size - len(everyone)))}
                        logins.add(more, timeout=600)
                        everyone.update(more)
                    singles = []
                    for _ in range(10):
                        one = {f"s{uuid.uuid4().hex[:11]}": uuid.uuid4().hex}
                        t = time.perf_counter()
                        logins.add(one, timeout=120)
                        singles.append(time.perf_counter() - t)
                        everyone.update(one)
                    burst_s, messages, added = burst(logins, 50)
                    everyone.update(added)
                    # A restarted server: it knows nothing, reads every login, finds nothing to change.
                    fresh = DynsecLogins(client, lambda v: vehicle_acls("bench", v))
                    t = time.perf_counter()
                    report = fresh.sync_all(everyone, timeout=600)
                    sync_s = time.perf_counter() - t
                    assert report.added == report.revoked == 0, report
                    size_kib = broker.dynsec_file.stat().st_size / 1024
                    rows.append((size, statistics.median(singles), burst_s, messages, sync_s, report.on_broker,
                                 size_kib))
                    print(f"  {size} vehicles: one sign-up {statistics.median(singles) * 1000:.1f} ms, "
                          f"50 at once {burst_s * 1000:.0f} ms in {messages} messages, "
                          f"sync of {report.on_broker} unchanged logins {sync_s * 1000:.0f} ms, "
                          f"plugin file {size_kib:.0f} KiB", flush=True)
            finally:
                client.stop()
    print("\n| vehicles on the broker | one sign-up (p50) | 50 sign-ups at once | messages for the 50 "
          "| sync after a restart, nothing changed | plugin file |")
    print("|---|---|---|---|---|---|")
    for size, single, burst_s, messages, sync_s, listed, size_kib in rows:
        print(f"| {size:,} | {single * 1000:.1f} ms | {burst_s * 1000:.0f} ms | {messages} | "
              f"{sync_s * 1000:.0f} ms ({listed:,} logins) | {size_kib:,.0f} KiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
