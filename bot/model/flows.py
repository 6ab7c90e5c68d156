"""Per-candle position flows of one series: notional opened, long share, proportional close factor, decay weight.

Rules (documented in ``ModelParams``):
- OI at a candle = the last OI sample stamped at or before the candle's close (if not too stale).
- OI rise at a candle = notional opened there; OI fall = every pending position shrinks by OI_k / OI_{k-1}.
- Candles without a usable OI delta use the volume proxy (share of traded notional), rescaled to the mean
  OI-based deposit when the series has OI elsewhere; with no volume either, the candle's range stands in for it.
- Long share of new notional = taker buy / volume, else the close-location proxy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import MarketSeries
from bot.model.params import ModelParams

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Notional per unit of relative candle range used when neither OI nor volume exists (relative shape only).
NOMINAL_ACTIVITY_USD = 1e9


@dataclass(frozen=True)
class Flows:
    """Flows of the ``n`` candles of one series inside the window.

    Attributes:
        close_time: (n,) ms UTC candle close times.
        low/high/close: (n,) USD.
        deposit: (n,) USD notional opened at each candle (>= 0).
        long_share: (n,) fraction of ``deposit`` opened as longs, in [0, 1].
        close_factor: (n,) multiplier in (0, 1] applied at candle k to positions opened before k.
        notes: human-readable remarks on proxies used.
    """

    close_time: I64
    low: F64
    high: F64
    close: F64
    deposit: F64
    long_share: F64
    close_factor: F64
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of candles."""
        return int(self.close_time.shape[0])


def _oi_at_closes(series: MarketSeries, close_time: I64, params: ModelParams) -> F64:
    """(n,) OI in USD at each candle close (NaN when no sample is recent enough)."""
    out = np.full(close_time.shape, np.nan)
    if series.oi_timestamp.size == 0:
        return out
    idx = np.searchsorted(series.oi_timestamp, close_time, side="right") - 1
    ok = idx >= 0
    safe = np.clip(idx, 0, None)
    age = close_time - series.oi_timestamp[safe]
    ok &= age <= params.oi_max_staleness_candles * series.timeframe_ms
    out[ok] = series.oi_usd[safe[ok]]
    return out


def _long_share(series: MarketSeries, sl: slice, params: ModelParams) -> F64:
    """(n,) long share of new notional: taker buy ratio where known, else the close-location proxy."""
    high, low, close = series.high[sl], series.low[sl], series.close[sl]
    rng = high - low
    clv = np.divide((close - low) - (high - close), rng, out=np.zeros_like(rng), where=rng > 0)
    share = 0.5 + 0.5 * params.split_strength * np.clip(clv, -1.0, 1.0)
    vol, buy = series.volume[sl], series.taker_buy_volume[sl]
    known = np.isfinite(vol) & np.isfinite(buy) & (vol > 0)
    share[known] = np.clip(buy[known] / vol[known], 0.0, 1.0)
    return share


def _activity_usd(series: MarketSeries, sl: slice) -> tuple[F64, bool]:
    """(n,) traded notional in USD (volume x close), filled from the relative range where volume is unknown.

    Returns (activity, used_nominal) where used_nominal says the scale is arbitrary (no volume anywhere).
    """
    close = series.close[sl]
    act = series.volume[sl] * close
    finite = np.isfinite(act)
    if finite.all():
        return act, False
    rel_range = np.divide(series.high[sl] - series.low[sl], close, out=np.zeros_like(close), where=close > 0)
    ok = finite & (rel_range > 0)
    ratio = float(np.median(act[ok] / rel_range[ok])) if ok.any() else NOMINAL_ACTIVITY_USD
    return np.where(finite, act, rel_range * ratio), not finite.any()


def series_flows(series: MarketSeries, start: int, params: ModelParams) -> Flows:
    """Flows of candles ``start..n-1`` of ``series`` (earlier candles only provide the OI baseline)."""
    sl = slice(start, series.n)
    tf = series.timeframe_ms
    all_close_time = series.timestamp + tf
    oi = _oi_at_closes(series, all_close_time, params)
    prev = np.concatenate(([np.nan], oi[:-1]))
    delta = (oi - prev)[sl]
    ratio = np.divide(oi, prev, out=np.ones_like(oi), where=np.isfinite(prev) & (prev > 0))[sl]
    known = np.isfinite(delta)
    notes: list[str] = []

    activity, nominal = _activity_usd(series, sl)
    proxy = params.volume_oi_share * activity
    if known.any():
        mean_proxy = float(proxy[known].mean())
        mean_dep = float(np.maximum(delta[known], 0.0).mean())
        if mean_proxy > 0:
            proxy = proxy * (mean_dep / mean_proxy)
        missing = int((~known).sum()) - (1 if start == 0 else 0)  # the first candle has no OI baseline
        if missing > 0:
            notes.append(f"{series.exchange}: OI missing for {missing} candles, volume proxy used there")
    else:
        notes.append(f"{series.exchange}: no OI history, positions estimated from traded volume")
        if nominal:
            notes.append(f"{series.exchange}: no volume either, sizes are relative (candle ranges)")

    deposit = np.where(known, np.maximum(np.nan_to_num(delta), 0.0), np.maximum(proxy, 0.0))
    close_factor = np.where(known & (delta < 0), np.clip(ratio, 1e-12, 1.0), 1.0)
    return Flows(
        close_time=all_close_time[sl].astype(np.int64),
        low=series.low[sl].astype(np.float64),
        high=series.high[sl].astype(np.float64),
        close=series.close[sl].astype(np.float64),
        deposit=deposit.astype(np.float64),
        long_share=_long_share(series, sl, params),
        close_factor=close_factor.astype(np.float64),
        notes=tuple(notes),
    )


def decay_weights(close_time: I64, end_ms: int, half_life_h: float) -> F64:
    """(n,) factor exp(-ln2 * age / half-life) of positions opened at ``close_time`` as seen at ``end_ms``."""
    if half_life_h <= 0:
        return np.ones(close_time.shape, dtype=np.float64)
    age_h = (end_ms - close_time).astype(np.float64) / 3_600_000.0
    return np.asarray(np.exp(-math.log(2.0) * age_h / half_life_h), dtype=np.float64)


def later_factor(close_factor: F64) -> F64:
    """(n,) product of ``close_factor`` over candles strictly after each candle (1 for the last)."""
    logs = np.log(close_factor)
    suffix = np.cumsum(logs[::-1])[::-1]
    return np.asarray(np.exp(suffix - logs), dtype=np.float64)
