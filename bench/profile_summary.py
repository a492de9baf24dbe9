"""Summarise py-spy's raw (collapsed-stack) output: the share of samples in which each frame appears.

    .venv/bin/python bench/profile_summary.py /tmp/prof/*.txt [--top 25] [--match coordinator]

Each line of a raw profile is `frame;frame;...;frame COUNT`. A frame's inclusive share is the fraction of
samples whose stack contains it (counted once per sample, however deep), the figure docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path


def inclusive(path: Path, leaf: bool = False) -> tuple[Counter[str], int]:
    """Samples per frame (each frame once per stack; only the innermost one with `leaf`) and the total."""
    shares: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        parts = stack.split(";")[-1:] if leaf else stack.split(";")
        frames = {re.sub(r" \(.*?:\d+\)$", "", f.strip()) + _where(f) for f in parts}
        for frame in frames:
            shares[frame] += n
    return shares, total


def _where(frame: str) -> str:
    found = re.search(r"\((?:.*/)?([^/]+?\.py):\d+\)", frame)
    return f" [{found.group(1)}]" if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only frames whose text contains this")
    parser.add_argument("--self", action="store_true", help="where the samples end (self time), not inclusive")
    args = parser.parse_args()
    for path in args.profiles:
        shares, total = inclusive(path, leaf=args.self)
        print(f"\n{path.name}: {total} samples")
        for frame, n in shares.most_common():
            if args.match and args.match not in frame:
                continue
            print(f"  {100 * n / max(total, 1):5.1f}%  {frame}")
            args_top = args.top
            if args_top <= 0:
                break
            args.top -= 1
        args.top = parser.parse_args().top


if __name__ == "__main__":
    main()
