"""Partitions and latency between companies on distinct hosts, in the middle of two-phase commits.

A partition drops, with nftables in the company's own namespace, every packet
between it and the other companies (clients still reach it); a pulled cable
(`ip link set … down`) cuts it from everyone. Latency is added per pair of
companies by the delay proxies. After each: the invariants from the logs
with every decision delivered, no trip a client was told CONFIRMED missing,
and every trip that was in doubt across the cut resolved.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from federation.invariants import Violation
from servers.bookings import events as ev
from tests.chaos.harness import Driver, Load, LoadStats, committed_trips
from tests.multihost.doubt import in_doubt, wait_for_open_hold
from tests.multihost.federation import Federation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@dataclass
class CutTrial:
    """What one cut did: the load around it, the checker after it, and the trips it left in doubt."""

    stats: LoadStats
    violations: list[Violation]
    lost: list[str]
    doubt: dict[str, str]
    recovery_s: float


def cut_under_load(fed: Federation, drivers: list[Driver], target: str, cut: Callable[[str], None],
                   heal: Callable[[str], None], rng: random.Random, down_s: float = 3.0) -> CutTrial:
    """Book under load over 40 ms links, cut `target` while a vote waits for its outcome, heal, settle, check.

    The latency widens each trip's window between a participant's vote and
    its outcome to a round trip or more, as between real hosts (on bare
    veths it is a few milliseconds); the cut waits for such a window, seen
    in the logs, so that it lands in the middle of a two-phase commit.
    """
    fed.set_rtt(0.040)
    load = Load(drivers, threads=3, seed=rng.randrange(1 << 30), max_requests=400, max_seconds=90).start()
    try:
        time.sleep(rng.uniform(0.5, 1.0))
        wait_for_open_hold({c: fed.net.log_path(c) for c in fed.net.companies}, target, timeout=10)
        cut_at = datetime.now(UTC)
        cut(target)
        try:
            time.sleep(down_s)
        finally:
            heal(target)
        time.sleep(1.0)  # bookings go on after the heal, too
    finally:
        load.stop()
        fed.set_rtt(0.0)
    violations, recovery = fed.net.settle(60)
    lost = sorted(t for t in load.stats.confirmed if t not in committed_trips(fed.net))
    return CutTrial(load.stats, violations, lost, in_doubt(fed.net.read_logs(), target, cut_at), recovery)


def repeat_until_in_doubt(trial: Callable[[int], CutTrial], attempts: int = 3) -> CutTrial:
    """Cut again (each one checked in full) until one caught a two-phase commit in the middle."""
    for attempt in range(attempts):
        result = trial(attempt)
        assert result.stats.requests > 0, "the load sent nothing"
        assert result.violations == [], "\n".join(map(str, result.violations))
        assert result.lost == [], f"trips confirmed to a client but not committed: {result.lost}"
        print(f"cut {attempt + 1}: {result.stats.requests} requests, {len(result.stats.confirmed)} confirmed, "
              f"{len(result.doubt)} in doubt, settled in {result.recovery_s:.1f} s")
        if result.doubt:
            return result
    pytest.fail(f"{attempts} cuts and none caught a trip between its vote and its outcome")


def test_a_participant_cut_off_mid_commit_resolves_every_trip_in_doubt_after_healing(
        fed: Federation, drivers: list[Driver]) -> None:
    result = repeat_until_in_doubt(lambda n: cut_under_load(fed, drivers, "eflux", fed.hosts.cut,
                                                            fed.hosts.heal, random.Random(1600 + n)))
    assert set(result.doubt.values()) <= {ev.HoldsConfirmed.NAME, ev.HoldsReleased.NAME}
    assert not fed.hosts.is_cut("eflux")


def test_the_coordinator_cut_off_mid_commit_leaves_no_participant_holding_after_healing(
        fed: Federation, drivers: list[Driver]) -> None:
    result = repeat_until_in_doubt(lambda n: cut_under_load(fed, drivers, "voltpoint", fed.hosts.cut,
                                                            fed.hosts.heal, random.Random(1700 + n)))
    # Clients still reached the cut coordinator: it kept answering them (refusals, not connection errors).
    assert "connect" not in result.stats.errors


def test_a_pulled_cable_mid_commit_heals_with_nothing_lost(
        fed: Federation, drivers: list[Driver]) -> None:
    repeat_until_in_doubt(lambda n: cut_under_load(fed, drivers, "ecocharge", fed.hosts.unplug, fed.hosts.plug,
                                                   random.Random(1800 + n)))


def test_20_to_80_ms_between_companies_keeps_every_invariant(
        fed: Federation, drivers: list[Driver]) -> None:
    rtts = fed.random_rtts(random.Random(1900), 0.020, 0.080)
    assert all(0.020 <= r <= 0.080 for r in rtts.values())
    before = {pair: p.bytes_forwarded for pair, p in fed.proxies.items()}
    load = Load(drivers, threads=3, seed=1900, max_requests=60, max_seconds=60).start()
    try:
        time.sleep(8.0)
    finally:
        load.stop()
    fed.set_rtt(0.0)
    violations, _ = fed.net.settle(60)
    assert violations == [], "\n".join(map(str, violations))
    assert len(load.stats.confirmed) > 0, "no trip was booked through the slow links"
    assert sorted(t for t in load.stats.confirmed if t not in committed_trips(fed.net)) == []
    # Every trip's peer calls went through the delayed links (the coordinators' ones to their participants).
    for pair in (("voltpoint", "eflux"), ("voltpoint", "ecocharge"), ("ecocharge", "eflux")):
        assert fed.proxies[pair].bytes_forwarded > before[pair], pair
