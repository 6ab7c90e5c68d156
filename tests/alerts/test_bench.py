"""The alert benchmark reports real figures: finite positive timings and a tick whose database round trips do not
grow with the subscriptions (speed itself is measured by ``liqmap bench``)."""

from __future__ import annotations

import math

from bot.benchmarks.alerts import SUBS_PER_SYMBOL, bench_alerts


def test_bench_alerts_figures_are_real() -> None:
    figures = bench_alerts(repeats=1)
    assert set(figures) == {"evaluate_100k_subs_ms", "tick_ms", "tick_db_roundtrips"}
    assert all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    trips = figures["tick_db_roundtrips"]
    # A count of statements (a median of one tick here), and batched: the tick evaluates 3 x SUBS_PER_SYMBOL
    # subscriptions in fewer statements than one symbol has subscriptions.
    assert trips == int(trips)
    assert trips < SUBS_PER_SYMBOL, trips
