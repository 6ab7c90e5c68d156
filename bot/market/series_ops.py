"""Pure helpers on ``MarketSeries``: cut to a time range, merge an incremental tail, resample to a coarser
timeframe. Candle arrays are (n,), OI (m,), funding (k,), liquidations (q,); times ms UTC."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bot.market.types import I64, TIMEFRAME_MS, MarketSeries

CANDLE_FIELDS = ("timestamp", "open", "high", "low", "close", "volume", "taker_buy_volume")
OI_FIELDS = ("oi_timestamp", "oi_usd")
FUNDING_FIELDS = ("funding_timestamp", "funding_rate")
LIQ_FIELDS = ("liq_timestamp", "liq_side", "liq_price", "liq_amount")


def _range(ts: I64, lo: int, hi: int | None) -> slice:
    a = int(np.searchsorted(ts, lo, side="left"))
    b = ts.shape[0] if hi is None else int(np.searchsorted(ts, hi, side="left"))
    return slice(a, b)


def cut(series: MarketSeries, since_ms: int, until_ms: int | None = None) -> MarketSeries:
    """Candles that opened at/after ``since_ms`` and had **closed** by ``until_ms``; OI, funding and
    liquidations stamped in ``[since_ms, until_ms]``. ``until_ms=None`` keeps all after ``since_ms``."""
    s = series.upto(until_ms) if until_ms is not None else series
    out: dict[str, object] = {}
    for group in (CANDLE_FIELDS, OI_FIELDS, FUNDING_FIELDS, LIQ_FIELDS):
        ts = getattr(s, group[0])
        sl = _range(ts, since_ms, None)
        out.update({f: getattr(s, f)[sl] for f in group})
    return replace(s, **out)  # type: ignore[arg-type]


def _merge_group(old: MarketSeries, new: MarketSeries, group: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Union of two sorted groups by timestamp; where both have a timestamp, ``new`` wins."""
    t_old, t_new = getattr(old, group[0]), getattr(new, group[0])
    keep = ~np.isin(t_old, t_new)
    ts = np.concatenate([t_old[keep], t_new])
    order = np.argsort(ts, kind="stable")
    return {f: np.concatenate([getattr(old, f)[keep], getattr(new, f)])[order] for f in group}


def merge(old: MarketSeries, new: MarketSeries) -> MarketSeries:
    """``old`` extended by ``new`` (same exchange/symbol/timeframe); ``new`` wins on equal timestamps and
    supplies tiers and ``fetched_at``."""
    out: dict[str, object] = {}
    for group in (CANDLE_FIELDS, OI_FIELDS, FUNDING_FIELDS, LIQ_FIELDS):
        out.update(_merge_group(old, new, group))
    return replace(new, **out)  # type: ignore[arg-type]


def drop_before(series: MarketSeries, since_ms: int) -> MarketSeries:
    """Forget everything stamped before ``since_ms`` (cache trimming)."""
    return cut(series, since_ms, None)


def resample(series: MarketSeries, timeframe: str) -> MarketSeries:
    """Aggregate candles into a coarser ``timeframe`` (a whole multiple of the series' one): OHLC as usual,
    volumes summed (NaN if any part is unknown). Buckets are aligned to the epoch; only buckets whose
    candles are present become candles. OI, funding and liquidations are unchanged."""
    src, dst = series.timeframe_ms, TIMEFRAME_MS[timeframe]
    if dst == src:
        return series
    if dst < src or dst % src:
        raise ValueError(f"cannot resample {series.timeframe} candles to {timeframe}")
    if series.n == 0:
        return replace(series, timeframe=timeframe)
    bucket = (series.timestamp // dst) * dst
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], series.n]
    return replace(
        series,
        timeframe=timeframe,
        timestamp=bucket[starts],
        open=series.open[starts],
        high=np.maximum.reduceat(series.high, starts),
        low=np.minimum.reduceat(series.low, starts),
        close=series.close[ends - 1],
        volume=np.add.reduceat(series.volume, starts),
        taker_buy_volume=np.add.reduceat(series.taker_buy_volume, starts),
    )
