"""The traded-range part of ``liqmap backtest``: which bars can be scored, what was realized in them, and the
``RangeStep`` observation of one map (the statistics are in ``bot.model.range_score``).

A step at ``t`` is scored on the next bar ``(t, t + bar]`` only when
- every candle of the bar is present (open times ``t, t + tf, ..., t + bar - tf``); the bar's low and high are
  theirs, widened to include ``p`` (price trades on from the last close);
- the liquidation record knows the bar: with ``liquidation_bars.csv``, every row stamped in ``[t, t + bar)`` is
  present and known; with ``liquidations.csv`` events, the bar lies within the feed's coverage (first to last
  event) and overlaps no gap of more than ``FEED_GAP_MS`` between consecutive events (the feed was down or
  throttled there, so "no liquidations" would be false). Realized events are those stamped in ``(t, t + bar]``.
When a dataset has both files, the bars (complete per-bar totals) are used for this score.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from bot.errors import LiqmapError
from bot.market.replay import LiquidationBars
from bot.market.types import MarketSeries
from bot.model.range_score import RangeStep, mass_between
from bot.model.types import LiqMap

F64 = npt.NDArray[np.float64]

FEED_GAP_MS = 12 * 3_600_000  # a silence longer than this in an event feed is a feed outage, not a calm market
NOTIONAL_SPAN_MS = 24 * 3_600_000  # trailing traded notional: one full daily activity cycle


class RealizedRecord(ABC):
    """Realized liquidations per side over a bar, from events or from per-bar totals (``None`` = unknown there)."""

    source: str
    bar_ms: int
    start: int  # first instant the record covers, ms UTC
    end: int  # last instant it covers, ms UTC

    @abstractmethod
    def realized(self, t: int) -> tuple[float, float] | None:
        """(long USD, short USD) liquidated in the bar after ``t``, or None when the record does not know it."""


class EventRecord(RealizedRecord):
    """``liquidations.csv`` events of ``series``: coverage is first to last event, minus gaps > ``FEED_GAP_MS``."""

    source = "events"

    def __init__(self, series: MarketSeries, bar_ms: int) -> None:
        ts = series.liq_timestamp
        self._ts, self.bar_ms = ts, bar_ms
        usd = series.liq_price * series.liq_amount
        usd = np.where(np.isfinite(usd), usd, 0.0)
        self._long = np.concatenate(([0.0], np.cumsum(np.where(series.liq_side > 0, usd, 0.0))))
        self._short = np.concatenate(([0.0], np.cumsum(np.where(series.liq_side < 0, usd, 0.0))))
        self.start, self.end = int(ts[0]), int(ts[-1])
        gap = np.flatnonzero(np.diff(ts) > FEED_GAP_MS)
        self._gap_start, self._gap_end = ts[gap], ts[gap + 1]

    def realized(self, t: int) -> tuple[float, float] | None:
        end = t + self.bar_ms
        if t < self.start or end > self.end:
            return None
        if bool(np.any((t < self._gap_end) & (end > self._gap_start))):
            return None
        a, b = np.searchsorted(self._ts, [t, end], side="right")
        return float(self._long[b] - self._long[a]), float(self._short[b] - self._short[a])


class BarRecord(RealizedRecord):
    """``liquidation_bars.csv``: a bar is known when every row stamped in ``[t, t + bar)`` is present and finite."""

    source = "bars"

    def __init__(self, bars: LiquidationBars, bar_ms: int) -> None:
        if bar_ms <= 0 or bar_ms % bars.bar_ms:
            raise LiqmapError(
                f"--bar {bar_ms // 60_000}m is not a whole number of the dataset's "
                f"{bars.bar_ms // 60_000}m liquidation bars"
            )
        self._bars, self.bar_ms = bars, bar_ms
        self.start = int(bars.timestamp[0])
        self.end = int(bars.timestamp[-1]) + bars.bar_ms

    def realized(self, t: int) -> tuple[float, float] | None:
        b = self._bars
        i = int(np.searchsorted(b.timestamp, t, side="left"))
        k = self.bar_ms // b.bar_ms
        rows = b.timestamp[i : i + k]
        if rows.size != k or not np.array_equal(rows, t + b.bar_ms * np.arange(k, dtype=np.int64)):
            return None
        long, short = b.long_usd[i : i + k], b.short_usd[i : i + k]
        if not (np.isfinite(long).all() and np.isfinite(short).all()):
            return None
        return float(long.sum()), float(short.sum())


def realized_record(series: MarketSeries, bars: LiquidationBars | None, bar_ms: int) -> RealizedRecord | None:
    """The record the range score reads for bars of ``bar_ms``: the per-bar totals when there are any, else the
    events, else None."""
    if bars is not None and bars.timestamp.size:
        return BarRecord(bars, bar_ms)
    if series.liq_timestamp.size:
        return EventRecord(series, bar_ms)
    return None


class Candles:
    """Per-step lookups on one series' candles: the bar's range and the trailing traded notional."""

    def __init__(self, series: MarketSeries, bar_ms: int) -> None:
        tf = series.timeframe_ms
        if bar_ms <= 0 or bar_ms % tf:
            raise LiqmapError(
                f"--bar {bar_ms // 60_000}m is not a whole number of the dataset's {series.timeframe} candles"
            )
        self.series, self.bar_ms = series, bar_ms
        notional = series.volume * series.close
        known = np.isfinite(notional)
        self._close = series.timestamp + tf
        self._cum = np.concatenate(([0.0], np.cumsum(np.where(known, notional, 0.0))))
        self._known = np.concatenate(([0], np.cumsum(known)))

    def bar_range(self, t: int) -> tuple[float, float] | None:
        """(low, high) USD of the candles opening in ``[t, t + bar_ms)``, or None unless all of them exist."""
        s, tf = self.series, self.series.timeframe_ms
        k = self.bar_ms // tf
        i = int(np.searchsorted(s.timestamp, t, side="left"))
        opens = s.timestamp[i : i + k]
        if opens.size != k or not np.array_equal(opens, t + tf * np.arange(k, dtype=np.int64)):
            return None
        return float(s.low[i : i + k].min()), float(s.high[i : i + k].max())

    def trailing_notional(self, t: int) -> float:
        """USD traded (volume x close) in the candles closed in ``(t - 24h, t]``; NaN when no volume is known."""
        a, b = np.searchsorted(self._close, [t - NOTIONAL_SPAN_MS, t], side="right")
        return float(self._cum[b] - self._cum[a]) if self._known[b] > self._known[a] else float("nan")


def _with_next_hour(pending: F64, next_hour: F64) -> F64:
    """(b,) USD: the pending book plus the next-hour layer (when the map has one)."""
    return pending + next_hour if next_hour.shape == pending.shape else pending


def range_step(
    liq_map: LiqMap, bar_range: tuple[float, float], realized: tuple[float, float], bar_ms: int, notional: float
) -> RangeStep:
    """The observation of ``liq_map`` (made at ``t``, price ``p``) on the bar after it."""
    p = liq_map.price
    low, high = min(bar_range[0], p), max(bar_range[1], p)
    longs = _with_next_hour(liq_map.long_usd, liq_map.next_long_usd)
    shorts = _with_next_hour(liq_map.short_usd, liq_map.next_short_usd)
    return RangeStep(
        t=int(liq_map.at),
        price=p,
        bar_ms=bar_ms,
        low=low,
        high=high,
        predicted_long=mass_between(liq_map.bin_price, longs, low, p),
        predicted_short=mass_between(liq_map.bin_price, shorts, p, high),
        realized_long=realized[0],
        realized_short=realized[1],
        notional_usd=notional,
    )

