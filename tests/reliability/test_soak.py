"""A short soak (few ticks, few subscriptions) through the real job, bot and Telegram stand-in: no errors, and every
figure is reported and consistent. (Memory and latency targets are checked by ``liqmap bench --soak``, not here.)"""

from __future__ import annotations

import math

from bot.benchmarks.soak import bench_soak


def test_quick_soak_has_no_errors() -> None:
    figures = bench_soak(ticks=3, subs=120, commands_per_tick=3)
    assert figures["soak_errors"] == 0
    assert figures["soak_commands"] == 9 and figures["soak_alerts_queued"] > 0
    assert figures["soak_ticks"] == 3 and figures["soak_subs"] == 120  # what was requested
    assert figures["soak_history_rows_end"] >= figures["soak_history_rows_mid"] > 0  # ticks are recorded
    for key in ("soak_rss_growth_mb", "soak_p50_ms", "soak_p95_ms", "soak_tick_p50_ms", "soak_tick_p95_ms"):
        assert math.isfinite(figures[key]), key
    assert 0 < figures["soak_p50_ms"] <= figures["soak_p95_ms"]
    assert 0 < figures["soak_tick_p50_ms"] <= figures["soak_tick_p95_ms"]
