"""Rendering benchmark: median ms per heatmap / liquidation-map image and RSS growth over 500 renders.

The map is built here with numpy (seeded) so the figures do not depend on the model: a 7d window
with 2016 heatmap columns and 1200 price bins, the heaviest shape the renderer should see.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time

import numpy as np

from bot.model.clusters import find_clusters
from bot.model.params import DEFAULT_PARAMS
from bot.model.types import LiqMap
from bot.render.cache import RenderCache
from bot.render.png import Kind, render_png

LEVERAGES = np.array([5.0, 10.0, 25.0, 50.0, 100.0, 125.0])
_LEV_WEIGHT = np.array([0.10, 0.25, 0.25, 0.20, 0.12, 0.08])
_START_MS = 1_795_000_000_000  # 2026-11-18, aligned to 5 min
_STEP_MS = 300_000
KINDS: tuple[Kind, Kind] = ("heatmap", "map")


def sample_liqmap(seed: int = 7, n_times: int = 2016, n_bins: int = 1200, window: str = "7d") -> LiqMap:
    """A realistic synthetic map: random-walk price, leveraged entries each step, sweeps when price crosses.

    Shapes: heat (n_times, n_bins), by-leverage (6, n_bins). Marked ``synthetic``.
    """
    rng = np.random.default_rng(seed)
    vol = 0.0022 * np.sqrt(2016 / n_times)
    close = 67_000.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n_times) + 0.2 * vol * np.sin(np.arange(n_times) / 97)))
    wick = np.abs(rng.normal(0.0, vol * 0.6, (2, n_times))) * close
    low, high = close - wick[0], close + wick[1]
    bins = np.linspace(close[-1] * 0.6, close[-1] * 1.4, n_bins)
    width = bins[1] - bins[0]
    long_p = np.zeros((LEVERAGES.size, n_bins))
    short_p = np.zeros((LEVERAGES.size, n_bins))
    heat_long = np.empty((n_times, n_bins))
    heat_short = np.empty((n_times, n_bins))
    for t in range(n_times):
        burst = 6.0 if rng.random() < 0.02 else 1.0
        size = rng.lognormal(14.0, 0.8) * burst * 2016 / n_times
        for k, lev in enumerate(LEVERAGES):
            entry = close[t] * (1 + rng.normal(0.0, 0.002, 4))
            for side, book, sign in (("long", long_p, -1.0), ("short", short_p, 1.0)):
                liq = entry * (1 + sign * (1 / lev - 0.005))
                idx = np.clip(((liq - bins[0]) / width).round().astype(int), 0, n_bins - 1)
                np.add.at(book[k], idx, size * _LEV_WEIGHT[k] * (0.9 if side == "long" else 0.8) / 4)
        long_p[:, bins >= low[t]] = 0.0  # longs above the traded low are swept
        short_p[:, bins <= high[t]] = 0.0
        long_p *= 0.9985
        short_p *= 0.9985
        heat_long[t] = long_p.sum(axis=0)
        heat_short[t] = short_p.sum(axis=0)
    times = _START_MS + _STEP_MS * (2016 // n_times) * np.arange(1, n_times + 1, dtype=np.int64)
    price = float(close[-1])
    long_usd, short_usd = long_p.sum(axis=0), short_p.sum(axis=0)
    clusters = find_clusters(bins, long_usd, short_usd, price, DEFAULT_PARAMS)
    return LiqMap(
        symbol="BTC/USDT:USDT", window=window, exchanges=("binanceusdm", "bybit", "okx"), at=int(times[-1]),
        price=price, bin_price=bins, long_usd=long_usd, short_usd=short_usd, leverages=LEVERAGES.copy(),
        long_by_lev=long_p, short_by_lev=short_p, heat_time=times, heat_long=heat_long, heat_short=heat_short,
        close_time=times.copy(), close=close, clusters=tuple(clusters), synthetic=True,
    )


def _rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc/self/statm)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _median_ms(m: LiqMap, kind: Kind, repeats: int) -> tuple[float, int]:
    """Median wall time (ms) of ``repeats`` renders of ``kind`` and the PNG size in bytes."""
    times = []
    size = 0
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        size = len(render_png(m, kind))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size


def _cache_hit_ms(m: LiqMap, repeats: int) -> float:
    """Median ms of a ``RenderCache`` hit (content-hashing the map + lookup) once the image is cached."""

    async def run() -> float:
        cache = RenderCache()
        await cache.get_or_render(m, "heatmap")
        times = []
        for _ in range(max(repeats, 1) * 5):
            start = time.perf_counter()
            await cache.get_or_render(m, "heatmap")
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    return asyncio.run(run())


def bench_render(repeats: int = 9, rss_renders: int = 500, n_times: int = 2016, n_bins: int = 1200) -> dict[str, float]:
    """Rendering figures for ``liqmap bench``.

    ``render_heatmap_ms`` / ``render_map_ms``: median ms over ``repeats`` renders of a 7d map with
    ``n_times`` heatmap columns (2016 = 5 min candles) x ``n_bins`` price bins (``render_heatmap_kb`` /
    ``render_map_kb``: PNG sizes);
    ``render_cache_hit_ms``: a cache hit for that map; ``render_rss_growth_mb``: resident memory after
    ``rss_renders`` renders (alternating kinds, a 168 x 1000 map: 7d of 1h candles) minus resident
    memory after 20 warm-up renders, measured before the big map exists.
    """
    small = sample_liqmap(seed=11, n_times=min(168, n_times), n_bins=min(1000, n_bins))
    # Memory first, in a process that has only rendered the small map: warm up, then 500 more renders.
    for i in range(20):
        render_png(small, KINDS[i % 2])
    gc.collect()
    before = _rss_mb()
    for i in range(rss_renders):
        render_png(small, KINDS[i % 2])
    rss_growth = _rss_mb() - before
    m = sample_liqmap(n_times=n_times, n_bins=n_bins)
    for kind in KINDS:  # warm-up for this shape
        render_png(m, kind)
    heat_ms, heat_bytes = _median_ms(m, "heatmap", repeats)
    map_ms, map_bytes = _median_ms(m, "map", repeats)
    figures = {
        "render_heatmap_ms": heat_ms,
        "render_map_ms": map_ms,
        "render_heatmap_kb": heat_bytes / 1000,
        "render_map_kb": map_bytes / 1000,
        "render_cache_hit_ms": _cache_hit_ms(m, repeats),
        "render_rss_growth_mb": rss_growth,
    }
    return {k: round(v, 2) for k, v in figures.items()}
