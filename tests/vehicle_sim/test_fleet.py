"""The fleet load generator against a real local network."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from vehicle_sim.cli import app
from vehicle_sim.fleet import percentile, run_fleet, summary_table

LATENCY_KEYS = {"p50", "p95", "p99", "mean", "max", "n"}


@pytest.mark.integration
def test_a_fleet_books_across_all_companies_without_errors_and_stops_by_itself(endpoints):
    began = time.monotonic()
    seen: list[float] = []
    summary = run_fleet(endpoints, vehicles=6, duration=8, seed=7, on_progress=lambda stats, t: seen.append(t))
    took = time.monotonic() - began
    assert summary["vehicles"] == 6 and summary["companies"] == sorted(endpoints)
    assert summary["confirmed"] > 0
    assert summary["errors"] == {} and summary["errors_total"] == 0
    assert summary["bookings"] == summary["confirmed"] + summary["refused_total"]
    assert set(summary["latency_ms"]) == LATENCY_KEYS and summary["latency_ms"]["n"] == summary["bookings"]
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["p99"]
    assert 8 <= summary["elapsed_s"] < 8 + 30 and took < 40
    assert seen and max(seen) <= 8


@pytest.mark.integration
def test_the_fleet_command_prints_a_summary_and_its_json(net):
    result = CliRunner().invoke(app, ["fleet", "--vehicles", "2", "--duration", "1.5", "--companies", "eflux",
                                      "--max-trips", "3", "--clients", str(net.clients_file), "--json"])
    assert result.exit_code == 0, result.output
    assert "Fleet summary" in result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["companies"] == ["eflux"] and summary["bookings"] <= 6


def test_an_unknown_company_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="unknown companies"):
        run_fleet({}, vehicles=1, duration=1, companies=["nowhere"])


@pytest.mark.parametrize(("q", "expected"), [(0, 1.0), (50, 2.5), (100, 4.0), (75, 3.25)])
def test_percentiles_interpolate_between_ranks(q, expected):
    assert percentile([4.0, 1.0, 3.0, 2.0], q) == pytest.approx(expected)
    assert percentile([], q) == 0.0


def test_ctrl_c_during_a_fleet_run_still_gives_the_summary_so_far(endpoints):
    def press_ctrl_c(stats, elapsed: float) -> None:
        if elapsed > 1.0:
            raise KeyboardInterrupt

    summary = run_fleet(endpoints, vehicles=2, duration=30, seed=11, on_progress=press_ctrl_c)
    assert summary["interrupted"] is True
    assert summary["elapsed_s"] < 20  # it stopped, it did not run the 30 s
    assert "stopped by Ctrl-C" in " ".join(str(c) for c in summary_table(summary).columns[1].cells)
