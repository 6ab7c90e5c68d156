"""Per-candle position flows of one series: notional opened, long share, proportional close factor, decay weight.

Rules (documented in ``ModelParams``):
- OI at a candle close = OI interpolated linearly between the samples around it, whatever their cadence (finer or
  coarser than the candles, or offset from them); gaps longer than a few hours / a few sample spacings are not
  bridged, the candles inside use the volume proxy (with a note).
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
        deposit: (n,) USD of new open interest at each candle (>= 0): one unit per contract, which has a long and
            a short holder.
        long_share / short_share: (n,) USD of leveraged longs / shorts opened per USD of ``deposit`` (>= 0). One
            side each (``both_sides`` off): ``long_share + short_share == 1``; both sides: they sum to 2.
        close_factor: (n,) multiplier in (0, 1] applied at candle k to positions opened before k.
        notes: human-readable remarks on proxies used.
        inverse: True for an inverse (coin-margined) contract, whose positions liquidate by the inverse formula.
        from_oi: how many of the ``n`` candles took their deposit from open-interest changes (the rest: the volume
            proxy).
        deposit_per_proxy: USD of OI-based deposit per USD of the raw volume proxy (``volume_oi_share`` × traded
            notional) over the candles with OI, the scale the proxy is rescaled by; 1 without OI.
    """

    close_time: I64
    low: F64
    high: F64
    close: F64
    deposit: F64
    long_share: F64
    close_factor: F64
    short_share: F64
    notes: tuple[str, ...] = ()
    inverse: bool = False
    from_oi: int = 0
    deposit_per_proxy: float = 1.0

    @property
    def n(self) -> int:
        """Number of candles."""
        return int(self.close_time.shape[0])


def _span(ms: float) -> str:
    """A duration for notes: ``5m``, ``1h``, ``2.5h``, ``5.8d``."""
    minutes = ms / 60_000.0
    if minutes < 60:
        return f"{minutes:.0f}m"
    if minutes < 48 * 60:
        return f"{minutes / 60:.3g}h"
    return f"{minutes / 1440:.2g}d"


def _candles(k: int) -> str:
    return f"{k} candle" if k == 1 else f"{k} candles"


@dataclass(frozen=True)
class OiOnCandles:
    """Open interest carried onto candle closes.

    oi: (n,) USD at each close, NaN where unknown. spacing_ms: typical (median) time between OI samples (NaN with
    fewer than two). max_gap_ms: longest sample gap bridged by a line. in_gap: (n,) True where a close falls in a
    longer gap (so the volume proxy stands in there). longest_gap_ms: longest such gap (0 when none).
    first_sample_ms / last_sample_ms: times of the first and last usable samples (0 when none).
    """

    oi: F64
    spacing_ms: float
    max_gap_ms: float
    in_gap: npt.NDArray[np.bool_]
    longest_gap_ms: float
    first_sample_ms: int
    last_sample_ms: int


def oi_at_closes(series: MarketSeries, close_time: I64, params: ModelParams) -> OiOnCandles:
    """OI (USD) at each candle close, whatever the OI cadence (``close_time``: (n,) ms, ascending).

    Between two samples OI is interpolated linearly, so a change is spread over the candles between its samples;
    a close that coincides with a sample takes it exactly. A gap longer than ``max(oi_max_gap_h,
    oi_max_gap_samples x the median sample spacing)`` is not bridged (NaN: the caller uses the volume proxy).
    After the last sample its value is held for ``oi_max_staleness_candles`` candles (feeds publish with a lag).
    Before the first sample OI is unknown.
    """
    n = close_time.shape[0]
    out = np.full(n, np.nan)
    none = np.zeros(n, dtype=np.bool_)
    ok = np.isfinite(series.oi_usd)
    ts = series.oi_timestamp[ok].astype(np.int64)
    oi = series.oi_usd[ok].astype(np.float64)
    if ts.size == 0:
        return OiOnCandles(out, math.nan, math.nan, none, 0.0, 0, 0)
    spacing = float(np.median(np.diff(ts))) if ts.size > 1 else math.nan
    max_gap = params.oi_max_gap_h * 3_600_000.0
    if math.isfinite(spacing):
        max_gap = max(max_gap, params.oi_max_gap_samples * spacing)
    left = np.searchsorted(ts, close_time, side="right") - 1  # last sample at or before the close
    right = np.searchsorted(ts, close_time, side="left")  # first sample at or after it
    has_left, has_right = left >= 0, right < ts.size
    li, ri = np.clip(left, 0, ts.size - 1), np.clip(right, 0, ts.size - 1)
    gap = (ts[ri] - ts[li]).astype(np.float64)
    bridged = has_left & has_right & (gap <= max_gap)
    w = np.divide(close_time - ts[li], gap, out=np.zeros(n), where=gap > 0)
    out[bridged] = (oi[li] + w * (oi[ri] - oi[li]))[bridged]
    tail = has_left & ~has_right & (close_time - ts[li] <= params.oi_max_staleness_candles * series.timeframe_ms)
    out[tail] = oi[li][tail]
    in_gap = has_left & has_right & ~bridged
    longest = float(gap[in_gap].max()) if in_gap.any() else 0.0
    return OiOnCandles(out, spacing, max_gap, in_gap, longest, int(ts[0]), int(ts[-1]))


def _long_share(series: MarketSeries, sl: slice, params: ModelParams) -> F64:
    """(n,) long share of new notional: taker buy ratio where known, else the close-location proxy, pulled towards
    0.5 by ``side_split`` (1 = as measured, 0 = even)."""
    high, low, close = series.high[sl], series.low[sl], series.close[sl]
    rng = high - low
    clv = np.divide((close - low) - (high - close), rng, out=np.zeros_like(rng), where=rng > 0)
    share = 0.5 + 0.5 * params.split_strength * np.clip(clv, -1.0, 1.0)
    vol, buy = series.volume[sl], series.taker_buy_volume[sl]
    known = np.isfinite(vol) & np.isfinite(buy) & (vol > 0)
    share[known] = np.clip(buy[known] / vol[known], 0.0, 1.0)
    return np.asarray(0.5 + params.side_split * (share - 0.5), dtype=np.float64)


def side_shares(series: MarketSeries, sl: slice, params: ModelParams) -> tuple[F64, F64]:
    """(long, short), each (n,): leveraged USD opened on each side per USD of new open interest.

    One side each: ``s`` and ``1 - s`` with ``s`` the long share. ``both_sides``: every contract has a long and a
    short holder, so each side opens the whole inflow, tilted by the aggressor split: ``2 s`` and ``2 (1 - s)``.
    """
    s = _long_share(series, sl, params)
    if params.both_sides:
        return 2.0 * s, 2.0 * (1.0 - s)
    return s, 1.0 - s


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


def _oi_notes(series: MarketSeries, on: OiOnCandles, known: npt.NDArray[np.bool_], sl: slice, start: int) -> list[str]:
    """Remarks on how OI was carried onto the window's candles: cadence, gaps, candles before/after OI history."""
    ex, tf, notes = series.exchange, series.timeframe_ms, []
    if math.isfinite(on.spacing_ms) and on.spacing_ms != tf:
        notes.append(f"{ex}: OI sampled every {_span(on.spacing_ms)}, read at each {series.timeframe} candle close "
                     "(linear between samples)")
    missing = ~known
    if start == 0:
        missing[0] = False  # the series' first candle never has an OI baseline
    close_time = (series.timestamp + tf)[sl]
    prev_in_gap = np.concatenate(([False], on.in_gap[:-1]))
    gap = missing & (on.in_gap | prev_in_gap)[sl]
    tail = missing & ~gap & (close_time > on.last_sample_ms)
    head = missing & ~gap & (close_time <= on.first_sample_ms)
    other = missing & ~(gap | tail | head)
    if gap.any():
        notes.append(f"{ex}: OI gap of {_span(on.longest_gap_ms)} (longer than {_span(on.max_gap_ms)} is not "
                     f"interpolated): volume proxy used for {_candles(int(gap.sum()))} there")
    if tail.any():
        age = int(close_time[-1]) - on.last_sample_ms
        notes.append(f"{ex}: no OI sample in the last {_span(age)}: volume proxy used for the "
                     f"{_candles(int(tail.sum()))} since")
    if head.any():
        notes.append(f"{ex}: OI history starts {_span(on.first_sample_ms - int(close_time[0]) + tf)} into the "
                     f"window: volume proxy used for the {_candles(int(head.sum()))} before it")
    if other.any():
        notes.append(f"{ex}: OI missing for {_candles(int(other.sum()))}, volume proxy used there")
    return notes


def series_flows(series: MarketSeries, start: int, params: ModelParams) -> Flows:
    """Flows of candles ``start..n-1`` of ``series`` (earlier candles only provide the OI baseline)."""
    sl = slice(start, series.n)
    tf = series.timeframe_ms
    all_close_time = series.timestamp + tf
    on = oi_at_closes(series, all_close_time, params)
    oi = on.oi
    prev = np.concatenate(([np.nan], oi[:-1]))
    delta = (oi - prev)[sl]
    ratio = np.divide(oi, prev, out=np.ones_like(oi), where=np.isfinite(prev) & (prev > 0))[sl]
    known = np.isfinite(delta)
    notes: list[str] = []

    activity, nominal = _activity_usd(series, sl)
    proxy = params.volume_oi_share * activity
    scale = 1.0
    if known.any():
        mean_proxy = float(proxy[known].mean())
        mean_dep = float(np.maximum(delta[known], 0.0).mean())
        if mean_proxy > 0:
            scale = mean_dep / mean_proxy
            proxy = proxy * scale
        notes.extend(_oi_notes(series, on, known, sl, start))
    else:
        notes.append(f"{series.exchange}: no OI history, positions estimated from traded volume")
        if nominal:
            notes.append(f"{series.exchange}: no volume either, sizes are relative (candle ranges)")

    deposit = np.where(known, np.maximum(np.nan_to_num(delta), 0.0), np.maximum(proxy, 0.0))
    close_factor = np.where(known & (delta < 0), np.clip(ratio, 1e-12, 1.0), 1.0)
    long_share, short_share = side_shares(series, sl, params)
    return Flows(
        close_time=all_close_time[sl].astype(np.int64),
        low=series.low[sl].astype(np.float64),
        high=series.high[sl].astype(np.float64),
        close=series.close[sl].astype(np.float64),
        deposit=deposit.astype(np.float64),
        long_share=long_share,
        close_factor=close_factor.astype(np.float64),
        short_share=short_share,
        notes=tuple(notes),
        inverse=series.contract == "inverse",
        from_oi=int(known.sum()),
        deposit_per_proxy=scale,
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
