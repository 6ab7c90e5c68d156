"""``liqmap backtest --estimate-prices``: capture@10% and the visited Spearman on datasets that only have per-bar
liquidation totals (``liquidation_bars.csv``, e.g. 161 days of coinglass), with the liquidation *prices* estimated.

Both scores need to know where each liquidation happened, and the only real feeds that say so are short (12.5 h of
OKX, 17 minutes of Binance). A bar's liquidations happened somewhere inside the range its candles traded: longs
while price fell, so in its lower part, shorts in its upper part. The estimate spreads each bar's long USD evenly
over the lower half of its candles' range, ``[low, (low + high) / 2]``, and its short USD over the upper half,
``[(low + high) / 2, high]``, as ``POINTS_PER_HALF`` equal events stamped at the bar's middle. The scores then run
unchanged on these events.

It is an estimate, and the report says so (``capture_estimated``): within a bar the real prices may sit anywhere
(a cascade at the low, or a squeeze right at the open), so bucket-level figures carry that blur. Its purpose is to
compare forecasts and maps on a long span, choosing on one part and reporting another (docs/model.md). Bars whose
totals are unknown or missing, or whose candles are not all present, give no events and are *holes*: a capture step
whose horizon overlaps one is not scored, since what was liquidated there is not known.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from bot.backtest_range import Candles
from bot.errors import LiqmapError
from bot.market.replay import LiquidationBars
from bot.market.types import MarketSeries

F64 = npt.NDArray[np.float64]

POINTS_PER_HALF = 16  # events per side and bar: finer than the 0.25% scoring buckets over a typical bar range


@dataclass(frozen=True)
class EstimatedEvents:
    """``series`` with estimated liquidation events, and the ``holes``: (start, end) ms UTC spans of the bars
    whose liquidations are unknown (each ``[bar open, bar open + bar_ms)``), ascending."""

    series: MarketSeries
    holes: tuple[tuple[int, int], ...]  # the backtest's plan skips capture steps over them (``_Plan.knows``)


def _half_points(low: F64, high: F64, upper: bool) -> F64:
    """(r, POINTS_PER_HALF) USD prices evenly inside the lower (or upper) half of each bar's [low, high]."""
    mid = (low + high) / 2.0
    lo, hi = (mid, high) if upper else (low, mid)
    u = (np.arange(POINTS_PER_HALF, dtype=np.float64) + 0.5) / POINTS_PER_HALF  # (k,)
    return np.asarray(lo[:, None] + (hi - lo)[:, None] * u[None, :], dtype=np.float64)


def estimated_events(series: MarketSeries, bars: LiquidationBars) -> EstimatedEvents:
    """``series`` with liquidation events estimated from ``bars`` (module docstring): per known bar,
    ``POINTS_PER_HALF`` long events over the lower half of its candles' range and as many short events over the
    upper half, each carrying an equal share of the bar's USD (amount in BTC = USD / price), stamped at the bar's
    middle. Raises ``LiqmapError`` when the dataset already has liquidation prices or its candles do not tile the
    bars."""
    if series.liq_timestamp.size:
        raise LiqmapError(
            "--estimate-prices is for datasets with only liquidation_bars.csv; this one has real liquidation "
            "prices (liquidations.csv)"
        )
    candles = Candles(series, bars.bar_ms)  # raises when a bar is not a whole number of candles
    row = {int(t): i for i, t in enumerate(bars.timestamp.tolist())}
    opens, ranges, holes = [], [], []
    for t in range(int(bars.timestamp[0]), int(bars.timestamp[-1]) + 1, bars.bar_ms):  # a missing row is a hole
        i = row.get(t)
        lu, su = (float(bars.long_usd[i]), float(bars.short_usd[i])) if i is not None else (np.nan, np.nan)
        rng = candles.bar_range(t)
        if rng is None or not (np.isfinite(lu) and np.isfinite(su)) or not rng[1] >= rng[0] > 0:
            holes.append((t, t + bars.bar_ms))
            continue
        opens.append(t)
        ranges.append((rng[0], rng[1], lu, su))
    r = np.asarray(ranges, dtype=np.float64).reshape(-1, 4)
    k = POINTS_PER_HALF
    stamp = np.repeat(np.asarray(opens, dtype=np.int64) + bars.bar_ms // 2, 2 * k)  # (r * 2k,)
    side = np.tile(np.repeat(np.asarray([1, -1], dtype=np.int8), k), len(opens))
    price = np.concatenate([_half_points(r[:, 0], r[:, 1], upper=False),
                            _half_points(r[:, 0], r[:, 1], upper=True)], axis=1).ravel()
    usd = np.repeat(np.stack([r[:, 2], r[:, 3]], axis=1) / k, k, axis=1).ravel()
    with_events = replace(series, liq_timestamp=stamp, liq_side=side, liq_price=price, liq_amount=usd / price)
    return EstimatedEvents(with_events, tuple(holes))
