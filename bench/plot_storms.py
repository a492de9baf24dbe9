"""Draw the conflict-free storms of several `bench/booking.py --json` runs (before, after…) as one PNG.

    .venv/bin/python bench/plot_storms.py docs/storms.png before=BEFORE.json after=AFTER.json [later=LATER.json]

Left: confirmed trips per second against vehicles at once; right: p50 and p99 latency (log scales). Only the
`conflict-free` storms are drawn (the corridor storm is a different question: most of it must be refused).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def storms(path: Path) -> list[dict[str, Any]]:
    """The conflict-free storms of one run, by size."""
    run = json.loads(path.read_text())
    return sorted((s for s in run["storms"] if s["label"] == "conflict-free"), key=lambda s: s["vehicles"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("runs", nargs="+", metavar="NAME=RUN.json", help="each run, named as the legend shows it")
    args = parser.parse_args()
    runs = [(Path(path), name) for name, _, path in (r.partition("=") for r in args.runs)]

    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    fig, (rate, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (path, name), color in zip(runs, ("#b0413e", "#e0a030", "#2e7d32", "#1f5fa8"), strict=False):
        drawn = storms(path)
        sizes = [s["vehicles"] for s in drawn]
        rate.plot(sizes, [s["confirmed_per_s"] for s in drawn], "o-", color=color, label=name)
        latency.plot(sizes, [s["latency_ms"]["p50"] for s in drawn], "o-", color=color, label=f"{name}: p50")
        latency.plot(sizes, [s["latency_ms"]["p99"] for s in drawn], "s--", color=color, label=f"{name}: p99")
    rate.set(xscale="log", xlabel="vehicles asking at once", ylabel="confirmed trips per second",
             title="Throughput (3 companies, conflict-free)")
    latency.set(xscale="log", yscale="log", xlabel="vehicles asking at once", ylabel="ms, request to answer",
                title="Latency")
    for ax in (rate, latency):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
