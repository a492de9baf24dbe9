"""The long chaos run, by hand: `.venv/bin/python bench/chaos.py --trials 100`.

Starts the local three-company network (free ports, brokers, a temporary run
directory), signs up a few drivers, then runs TRIALS trials of
tests/chaos/harness.py: booking load over REST while ONE fault hits
(SIGKILL+restart of the coordinator or a participant, SIGKILL+restart of a
broker, SIGSTOP/SIGCONT of a server), then waits for every trip to resolve and
checks every invariant from the logs. Prints one line per trial and a summary;
exits 1 if any trial lost a confirmed trip, broke an invariant or did not
converge.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from federation.launcher import LocalNetwork  # noqa: E402
from tests.chaos.harness import FAULTS, run_trial, sign_up_drivers  # noqa: E402

FRESH_EVERY = 10  # trials between two sets of new cars
from tests.live import DURABLE, FAST  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4, help="booking threads during each trial")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=60.0, help="stop starting trials after this")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, event logs)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    run_dir = Path(tempfile.mkdtemp(prefix="recarga-chaos-"))
    print(f"chaos: {args.trials} trials, seed {seed}, run dir {run_dir}; "
          f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, "
          f"Python {platform.python_version()}", flush=True)
    net = LocalNetwork(run_dir, free_ports=True, mqtt=True, env={**FAST, **DURABLE})
    started = time.monotonic()
    trials = []
    try:
        net.start(timeout=60)
        drivers = sign_up_drivers(net, per_home=3, seed=seed % 1000)
        deadline = started + args.max_minutes * 60
        for n in range(1, args.trials + 1):
            if time.monotonic() > deadline:
                print(f"stopping early: --max-minutes {args.max_minutes} reached", flush=True)
                break
            if n % FRESH_EVERY == 0:
                # Six cars booking one after another for 100 trials would reach a year ahead (DEPARTURE_TOO_FAR)
                # and fill the 30 days they spread over (POINT_TAKEN): later trials then commit nothing. New cars
                # on the next stretch of days keep every trial booking.
                drivers = sign_up_drivers(net, per_home=3, seed=(seed + n) % 1000, from_days=3.0 * n)
            t0 = time.monotonic()
            trial = run_trial(net, drivers, n, rng, threads=args.threads)
            trials.append(trial)
            print(f"{trial.line()} ({time.monotonic() - t0:.1f}s)", flush=True)
            for v in trial.violations:
                print(f"    VIOLATION {v}", flush=True)
            for t in trial.lost:
                print(f"    LOST confirmed trip {t}", flush=True)
    finally:
        net.stop()
    total = time.monotonic() - started
    bad = [t for t in trials if not t.ok]
    by_fault = Counter(t.fault for t in trials)
    confirmed = sum(len(t.stats.confirmed) for t in trials)
    requests = sum(t.stats.requests for t in trials)
    errors: Counter[str] = Counter()
    for t in trials:
        errors.update(t.stats.errors)
    recoveries = [t.recovery_s for t in trials]
    print("\nsummary")
    print(f"  trials: {len(trials)} in {total:.0f} s; by fault: "
          + ", ".join(f"{f}={by_fault.get(f, 0)}" for f in FAULTS))
    print(f"  bookings: {requests} requests, {confirmed} confirmed, "
          f"{sum(t.stats.refused for t in trials)} refused, errors {dict(errors) or 0}")
    if recoveries:
        print(f"  convergence after recovery: median {statistics.median(recoveries):.1f} s, "
              f"max {max(recoveries):.1f} s")
    print(f"  failed trials: {len(bad)}; violations: {sum(len(t.violations) for t in trials)}; "
          f"confirmed trips lost: {sum(len(t.lost) for t in trials)}")
    if args.keep or bad:
        print(f"  run dir kept: {run_dir}")
    else:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
