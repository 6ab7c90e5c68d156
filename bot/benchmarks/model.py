"""Model benchmark figures for ``liqmap bench``: recompute time of ``build_map`` and the speed-up over the plain loop.

Inputs are seeded synthetic markets (``bot.market.sim``) with OI, taker volume and the default 1,000-bin grid and
8 leverage buckets. ``reference_loop_ratio`` compares the plain per-candle, per-level Python loop
(``bot.model.reference``) with the vectorised book (``bot.model.book.pending_by_leverage``) on the *same* input:
one day of 5m candles (288 candles, 4,608 cohorts). The loop is O(candles x cohorts), so it is not run on the
7-day input (it would take minutes); a same-input ratio is the honest comparison.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable

from bot.market.sim import synthetic_series
from bot.market.types import MarketSeries
from bot.model.book import pending_by_leverage
from bot.model.build import build_map
from bot.model.flows import series_flows
from bot.model.grid import grid_around
from bot.model.params import DEFAULT_PARAMS
from bot.model.reference import reference_book

END_MS = 1_780_000_000_000  # a fixed instant (2026-05-28) so runs are comparable
SEED = 7


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up, ms."""
    fn()
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


def bench_series(timeframe: str, n_candles: int) -> MarketSeries:
    """Seeded synthetic BTC/USDT series of ``n_candles`` closed candles of ``timeframe`` ending at ``END_MS``."""
    return synthetic_series("binanceusdm", "BTC/USDT:USDT", timeframe, END_MS, n_candles, SEED)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)


def reference_ratio(repeats: int = 3) -> float:
    """Plain-loop time / vectorised time of the pending book on one day of 5m candles (same input)."""
    series = bench_series("5m", 288)
    flows = series_flows(series, 0, DEFAULT_PARAMS)
    grid = grid_around(float(series.close[-1]), DEFAULT_PARAMS.range_pct, DEFAULT_PARAMS.n_bins)
    fast = _median_ms(lambda: pending_by_leverage(flows, grid, DEFAULT_PARAMS), max(repeats, 5))
    slow = _median_ms(lambda: reference_book(flows, grid, DEFAULT_PARAMS), 1)
    return slow / fast


def bench_model(repeats: int = 5) -> dict[str, float]:
    """Median ms of a full ``build_map`` on 7 days of 5m and 30 days of 1m candles, the loop ratio and peak RSS."""
    week = bench_series("5m", 7 * 288)
    month = bench_series("1m", 30 * 1440)
    return {
        "recompute_7d_5m_ms": _median_ms(lambda: build_map([week], window="7d"), repeats),
        "recompute_30d_1m_ms": _median_ms(lambda: build_map([month], window="30d"), repeats),
        "reference_loop_ratio": reference_ratio(repeats),
        "peak_rss_mb": _peak_rss_mb(),
    }
