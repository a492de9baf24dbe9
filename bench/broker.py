"""Mosquitto's cost per message and its one-core ceiling, run by hand: `.venv/bin/python bench/broker.py`.

One broker of our config (TCP_NODELAY, password file, ACL: `mosquitto.config`), one
subscriber on every vehicle's request topic (what a company server subscribes to), and P
publishers, each a vehicle account publishing booking-sized requests (~250 bytes) to its
own request topic as fast as the broker takes them. Publishers and the subscriber are
Mosquitto's own C clients (`mosquitto_pub -l`, `mosquitto_sub`), so the Python clients'
cost is not what is measured. For each P: messages published per second, how many reached
the subscriber (Mosquitto drops QoS 1 messages for a subscriber whose queue holds
`max_queued_messages`, 1,000 in our config), the broker's CPU (user + system, from /proc)
per message published, and the rate one core would carry at that cost (Mosquitto handles
every client on one thread). Medians by CPU per message.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contract import topics  # noqa: E402
from mosquitto import AclFile, BrokerProcess, PasswordFile  # noqa: E402

COMPANY = "bench"
TICK = os.sysconf("SC_CLK_TCK")
PAYLOAD = ('{"request_id":"%08d","kind":"book","origin":"salvador","destination":"fortaleza",'
           '"departure":"2026-12-03T08:00:00+00:00","alternatives":true,"vehicle":{"capacity_kwh":60.0,'
           '"consumption_kwh_per_km":0.16,"charge_kwh":54.0,"max_ac_kw":11.0,"max_dc_kw":100.0}}')


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(broker: BrokerProcess, tmp: Path, publishers: int, total: int, qos: int,
        subscribers: int = 1) -> dict[str, float]:
    """P publishers share `total` messages; subscribers take what the broker delivers until it goes quiet.

    Several subscribers share one MQTT 5 shared subscription (`$share/gateways/…`): each message goes to one
    of them, as it would to one of several gateway processes of a company.
    """
    assert broker.pid is not None
    per = total // publishers
    lines = tmp / f"lines-{per}.txt"
    if not lines.exists():
        lines.write_text("".join(PAYLOAD % i + "\n" for i in range(per)))
    topic = topics.all_requests(COMPANY) if subscribers == 1 else f"$share/gateways/{topics.all_requests(COMPANY)}"
    outs = [tmp / f"received-{i}.txt" for i in range(subscribers)]
    subs = []
    for i, out in enumerate(outs):
        with open(out, "wb") as sink:
            subs.append(subprocess.Popen(
                ["mosquitto_sub", "-V", "mqttv5", "-h", "127.0.0.1", "-p", str(broker.port), "-u", "server",
                 "-P", "s", "-i", f"gateway-{i}", "-q", str(qos), "-t", topic], stdout=sink, stderr=subprocess.DEVNULL))
    time.sleep(0.5)  # subscribed before anyone publishes
    before, start = cpu_s(broker.pid), time.perf_counter()
    pubs = []
    for p in range(publishers):
        with open(lines, "rb") as source:
            pubs.append(subprocess.Popen(
                ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", f"car{p}", "-P", "c",
                 "-q", str(qos), "-t", topics.vehicle_request(COMPANY, f"car{p}"), "-l"],
                stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for proc in pubs:
        proc.wait(timeout=120)
    published = time.perf_counter() - start
    # Wait until deliveries stop: what the broker dropped (a full queue) never comes.
    size, last_growth = -1, time.perf_counter()
    while time.perf_counter() - last_growth < 1.0:
        now_size = sum(out.stat().st_size for out in outs)
        if now_size != size:
            size, last_growth = now_size, time.perf_counter()
        time.sleep(0.05)
    elapsed = last_growth - start
    used = cpu_s(broker.pid) - before
    for sub in subs:
        sub.terminate()
        sub.wait(timeout=10)
    got = sum(out.read_bytes().count(b"\n") for out in outs)
    sent = per * publishers
    return {"publishers": publishers, "subscribers": subscribers, "sent": sent, "delivered": got, "seconds": elapsed,
            "sent_rate": sent / published, "rate": got / elapsed, "broker_cpu_share": used / elapsed,
            "us_per_message": used / sent * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--publishers", default="1,8,64", help="numbers of publishing vehicles")
    parser.add_argument("--messages", type=int, default=64_000, help="messages per run, shared by the publishers")
    parser.add_argument("--subscribers", default="1", help="numbers of subscribers sharing the requests (MQTT 5)")
    parser.add_argument("--qos", type=int, default=1, choices=[0, 1])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    counts = [int(x) for x in args.publishers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    broker = BrokerProcess(tmp / "broker", persistence=False)
    broker.run_dir.mkdir(parents=True)
    PasswordFile(broker.password_file).set_many(
        {"server": "s", **{f"car{p}": "c" for p in range(max(counts))}})
    AclFile(COMPANY).write(broker.acl_file)
    version = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"# {platform.machine()}, {len(os.sched_getaffinity(0))} cpus, {version}, QoS {args.qos},"
          f" {len(PAYLOAD % 0)}-byte payloads, {time.strftime('%Y-%m-%d %H:%M')},"
          f" load average {os.getloadavg()[0]:.1f}")
    print("| publishers | subscribers | published/s | delivered (of sent) | broker CPU share"
          " | broker CPU µs per message in | one core at that cost |")
    print("|---|---|---|---|---|---|---|")
    try:
        with broker:
            for publishers, subscribers in itertools.product(counts, [int(x) for x in args.subscribers.split(",")]):
                runs = sorted((run(broker, tmp, publishers, args.messages, args.qos, subscribers)
                               for _ in range(args.repeats)), key=lambda r: r["us_per_message"])
                mid = runs[len(runs) // 2]
                print(f"| {publishers} | {subscribers} | {mid['sent_rate']:,.0f} |"
                      f" {mid['delivered']:,.0f} of {mid['sent']:,.0f}"
                      f" ({mid['delivered'] / mid['sent']:.0%}) | {mid['broker_cpu_share']:.0%} |"
                      f" {mid['us_per_message']:.1f} | {1e6 / mid['us_per_message']:,.0f} messages/s |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
