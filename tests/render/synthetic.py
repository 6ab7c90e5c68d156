"""Seeded synthetic LiqMaps built directly with numpy for the renderer tests (no model or market code).

A random-walk close price; every hour traders open positions at 5 leverages; a position's liquidation
level is ``entry * (1 -/+ 1/lev)`` spread over a few bins; levels the price trades through are swept.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from bot.model.types import Cluster, LiqMap

F64 = npt.NDArray[np.float64]
START_MS = 1_795_046_400_000  # 2026-11-18 00:00 UTC
HOUR_MS = 3_600_000
LEVERAGES = np.array([5.0, 10.0, 25.0, 50.0, 100.0])
LEV_WEIGHT = np.array([0.15, 0.30, 0.25, 0.20, 0.10])


def find_clusters(price: float, bins: F64, usd: F64, side: str, count: int) -> tuple[Cluster, ...]:
    """Up to ``count`` zones around the biggest peaks of ``usd`` (b,) USD: contiguous bins >= half the peak."""
    smooth = np.convolve(usd, np.ones(5) / 5, mode="same")
    total = float(usd.sum()) or 1.0
    taken = np.zeros(usd.size, dtype=bool)
    found: list[Cluster] = []
    for i in np.argsort(smooth)[::-1]:
        if len(found) >= count or smooth[i] <= 0:
            break
        if taken[max(i - 4, 0) : i + 5].any():
            continue
        lo = hi = int(i)
        while lo > 0 and smooth[lo - 1] >= 0.5 * smooth[i] and not taken[lo - 1]:
            lo -= 1
        while hi < usd.size - 1 and smooth[hi + 1] >= 0.5 * smooth[i] and not taken[hi + 1]:
            hi += 1
        taken[lo : hi + 1] = True
        zone = float(usd[lo : hi + 1].sum())
        near = bins[hi] if side == "long" else bins[lo]
        found.append(Cluster(id=f"{side}-{len(found)}", side=side,  # type: ignore[arg-type]
                             low=float(bins[lo]), high=float(bins[hi]), peak=float(bins[i]), usd=zone,
                             share=zone / total, distance_pct=float((near - price) / price * 100)))
    return tuple(found)


def make_map(seed: int = 3, n_times: int = 168, n_bins: int = 400, synthetic: bool = True) -> LiqMap:
    """A 7d map: heat (n_times, n_bins), by-leverage (5, n_bins), 3 clusters per side."""
    rng = np.random.default_rng(seed)
    close = 67_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n_times)))
    wick = np.abs(rng.normal(0.0, 0.003, (2, n_times))) * close
    low, high = close - wick[0], close + wick[1]
    bins = np.linspace(close[-1] * 0.8, close[-1] * 1.2, n_bins)
    width = bins[1] - bins[0]
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    long_p = np.zeros((LEVERAGES.size, n_bins))
    short_p = np.zeros((LEVERAGES.size, n_bins))
    heat_long = np.empty((n_times, n_bins))
    heat_short = np.empty((n_times, n_bins))
    for t in range(n_times):
        size = rng.lognormal(16.0, 0.7)
        for k, lev in enumerate(LEVERAGES):
            for book, sign in ((long_p, -1.0), (short_p, 1.0)):
                idx = int(np.rint((close[t] * (1 + sign / lev) - bins[0]) / width))
                if 6 <= idx < n_bins - 6:
                    book[k, idx - 6 : idx + 7] += size * LEV_WEIGHT[k] * kernel / kernel.sum()
        long_p[:, bins >= low[t]] = 0.0
        short_p[:, bins <= high[t]] = 0.0
        heat_long[t] = long_p.sum(axis=0)
        heat_short[t] = short_p.sum(axis=0)
    times = START_MS + HOUR_MS * np.arange(1, n_times + 1, dtype=np.int64)
    price = float(close[-1])
    long_usd, short_usd = long_p.sum(axis=0), short_p.sum(axis=0)
    clusters = find_clusters(price, bins, long_usd, "long", 3) + find_clusters(price, bins, short_usd, "short", 3)
    return LiqMap(
        symbol="BTC/USDT:USDT", window="7d", exchanges=("binanceusdm", "bybit", "okx"), at=int(times[-1]),
        price=price, bin_price=bins, long_usd=long_usd, short_usd=short_usd, leverages=LEVERAGES.copy(),
        long_by_lev=long_p, short_by_lev=short_p, heat_time=times, heat_long=heat_long, heat_short=heat_short,
        close_time=times.copy(), close=close, clusters=clusters, synthetic=synthetic,
    )


def empty_map(base: LiqMap | None = None) -> LiqMap:
    """``base`` (default ``make_map()``) with nothing pending anywhere and no clusters."""
    m = base or make_map()
    return dataclasses.replace(
        m, long_usd=np.zeros_like(m.long_usd), short_usd=np.zeros_like(m.short_usd),
        long_by_lev=np.zeros_like(m.long_by_lev), short_by_lev=np.zeros_like(m.short_by_lev),
        heat_long=np.zeros_like(m.heat_long), heat_short=np.zeros_like(m.heat_short), clusters=(),
    )
