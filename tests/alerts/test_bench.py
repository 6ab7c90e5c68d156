"""The alert benchmark runs and reports its three keys (speed itself is measured by ``liqmap bench``)."""

from __future__ import annotations

from bot.benchmarks.alerts import bench_alerts


def test_bench_alerts_reports_its_keys() -> None:
    figures = bench_alerts(repeats=1)
    assert set(figures) == {"evaluate_100k_subs_ms", "tick_ms", "tick_db_roundtrips"}
    assert all(v > 0 for v in figures.values())
