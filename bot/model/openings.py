"""The next-hour layer: liquidation levels of the positions expected to open during the coming hour.

The pending book holds the positions open at ``t``. Over the next hour more positions open near price, and the
high-leverage ones among them are liquidated within that same hour when price swings far enough. How many depends on
how busy the coming hour will be, which the last hours and the time of day tell (liquidations follow the activity
cycle). The layer is kept apart from the pending book: clusters, alerts and images read the book only, and the
traded-range score ("if price goes there within the bar, how much gets liquidated?") reads both (docs/model.md).

Only candles closed by ``at_ms`` are read. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import MarketSeries
from bot.model.grid import Grid, accumulate_intervals
from bot.model.liquidation import liq_factors
from bot.model.params import ModelParams

F64 = npt.NDArray[np.float64]
HOUR_MS = 3_600_000
LEVEL_SPAN_MS = 24 * HOUR_MS  # the activity level: one full daily cycle
PROFILE_SPAN_MS = 7 * 24 * HOUR_MS  # the hour-of-day profile: one week


@dataclass(frozen=True)
class ExpectedHour:
    """What the coming hour is expected to trade: ``notional_usd`` (USD of traded notional in the hour) and
    ``half_range`` (half the hour's high-low range, a fraction of price)."""

    notional_usd: float
    half_range: float


def _hourly_range(close_time: F64, low: F64, high: F64, close: F64, end_ms: int) -> float:
    """(max high − min low) / last close over the candles closing in ``(end_ms − 1 h, end_ms]``; NaN if none."""
    inside = (close_time > end_ms - HOUR_MS) & (close_time <= end_ms)
    if not inside.any():
        return float("nan")
    last = float(close[inside][-1])
    return float((np.nanmax(high[inside]) - np.nanmin(low[inside])) / last) if last > 0 else float("nan")


def expected_hour(series: MarketSeries, at_ms: int) -> ExpectedHour | None:
    """The coming hour's notional and range from ``series``' candles closed by ``at_ms`` (None without volume).

    notional = √(last hour's notional × mean hourly notional of the last 24 h × hour-of-day factor), the factor being
    the mean notional per candle at the coming hour of day over the last 7 days / the mean over those 7 days (1 with
    no candle at that hour): the geometric mean of "like the last hour" and "like this hour usually is". Hourly
    figures are the mean notional of the candles present × candles per hour, so a gap in the tape or a history
    shorter than 24 h does not read as a quiet market. ``history_ms`` in ``bot.model.build`` makes the engine load
    the 7 days live maps need, so a live map's layer is the one the backtest scores. The range is the mean
    of the last two hours' high-low ranges (volatility clusters on the scale of hours). Candles longer than an hour
    count as their own hour.
    """
    tf = series.timeframe_ms
    close_time = (series.timestamp + tf).astype(np.float64)
    k = int(np.searchsorted(close_time, at_ms, side="right"))
    first = int(np.searchsorted(close_time, at_ms - PROFILE_SPAN_MS, side="right"))
    if k <= first:
        return None
    ts, close = close_time[first:k], series.close[first:k]
    notional = series.volume[first:k] * close
    ok = np.isfinite(notional) & (notional >= 0)
    hour_span = max(HOUR_MS, tf)
    last = ok & (ts > at_ms - hour_span)
    level = ok & (ts > at_ms - LEVEL_SPAN_MS)
    if not last.any() or not level.any():
        return None
    per_hour = HOUR_MS / tf  # candles per hour (< 1 for candles longer than an hour)
    last_per_h = float(notional[last].mean()) * per_hour  # candles present count: a gap is not a quiet hour
    level_per_h = float(notional[level].mean()) * per_hour  # also with less than 24 h of history
    open_hour = ((ts - tf) // HOUR_MS) % 24
    same_hour = ok & (open_hour == (at_ms // HOUR_MS) % 24)
    mean_all = float(notional[ok].mean())
    factor = float(notional[same_hour].mean()) / mean_all if same_hour.any() and mean_all > 0 else 1.0
    ranges = [_hourly_range(ts, series.low[first:k], series.high[first:k], close, end)
              for end in (at_ms, at_ms - hour_span)]
    finite = [r for r in ranges if np.isfinite(r)]
    if not finite:
        return None
    usd = float(np.sqrt(max(last_per_h, 0.0) * level_per_h * factor))
    return ExpectedHour(usd, float(np.mean(finite)) / 2.0)


def next_hour_layer(series: MarketSeries, grid: Grid, price: float, at_ms: int, params: ModelParams,
                    deposit_per_proxy: float) -> tuple[F64, F64]:
    """(long (b,), short (b,)) USD at the liquidation levels of the positions ``series``' exchange is expected to
    open in the next hour: ``params.next_hour_openings`` × the model's opened share of the expected notional
    (``volume_oi_share``, times ``deposit_per_proxy``: the series' OI-based deposit per USD of that proxy,
    ``Flows.deposit_per_proxy``, 1 without OI), half to each side, over the leverage prior, entries uniform over
    ``price × (1 ± half range)``."""
    b = grid.n_bins
    hour = expected_hour(series, at_ms) if params.next_hour_openings > 0 else None
    if hour is None or not (hour.notional_usd > 0 and hour.half_range > 0 and price > 0):
        return np.zeros(b), np.zeros(b)
    levs = np.asarray(params.leverages, dtype=np.float64)
    opened = params.next_hour_openings * params.volume_oi_share * deposit_per_proxy * hour.notional_usd
    mass = opened * 0.5 * np.asarray(params.weights, dtype=np.float64)  # (v,) USD per side and bucket
    inverse = series.contract == "inverse"
    out = []
    for side in (1, -1):
        k = liq_factors(levs, side, params.typical_position_usd, series.tiers, inverse=inverse, price=price)
        lo, hi = price * (1.0 - hour.half_range) * k, price * (1.0 + hour.half_range) * k
        out.append(accumulate_intervals(grid, lo, hi, mass).ravel())
    return out[0], out[1]
