"""``build_map``: market series of one symbol (one per exchange) -> the ``LiqMap`` every consumer reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import MarketSeries, timeframe_ms
from bot.model.book import pending_by_leverage
from bot.model.clusters import find_clusters
from bot.model.flows import series_flows
from bot.model.grid import Grid, grid_around
from bot.model.heatmap import column_times, heatmap
from bot.model.openings import PROFILE_SPAN_MS, next_hour_layer
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import WINDOWS, Cluster, LiqMap, window_ms

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def history_ms(window: str, params: ModelParams = DEFAULT_PARAMS, warmup_windows: float = 0.25) -> int:
    """How much history (ms before the map's instant) ``build_map`` reads for a map of ``window``: the window plus
    ``warmup_windows`` of it (open-interest samples before the window's first candle), and at least the 7 days
    the next-hour layer's hour-of-day profile reads when that layer is on. A source loading less gives a map
    other than the one the backtest (which reads the whole recorded history) scores. Raises ``ValueError`` for an
    unknown window."""
    span = int(window_ms(window) * (1 + warmup_windows))
    profile = PROFILE_SPAN_MS + timeframe_ms(WINDOWS[window][1])  # the first candle closing inside opens before it
    return max(span, profile) if params.next_hour_openings > 0 else span


def _summaries(series: Sequence[MarketSeries], start_ms: int) -> tuple[float, float, float]:
    """(OI now USD summed, notional-weighted latest funding, OI change over the window %) — NaN when unknown."""
    oi_now, oi_then, fundings, weights = 0.0, 0.0, [], []
    have_oi = have_change = False
    for s in series:
        if s.oi_usd.size:
            now = float(s.oi_usd[-1])
            oi_now += now
            have_oi = True
            k = int(np.searchsorted(s.oi_timestamp, start_ms, side="right")) - 1
            if k >= 0:
                oi_then += float(s.oi_usd[k])
                have_change = True
        if s.funding_rate.size:
            fundings.append(float(s.funding_rate[-1]))
            weights.append(float(s.oi_usd[-1]) if s.oi_usd.size else 1.0)
    oi = oi_now if have_oi else float("nan")
    change = (oi_now / oi_then - 1.0) * 100.0 if have_change and oi_then > 0 else float("nan")
    funding = float(np.average(fundings, weights=weights)) if fundings and sum(weights) > 0 else float("nan")
    return oi, funding, change


def _empty(symbol: str, window: str, at: int, price: float, grid: Grid, params: ModelParams,
           synthetic: bool, notes: tuple[str, ...]) -> LiqMap:
    """A valid all-zero map (no candles, flat market or zero OI)."""
    b, v = grid.n_bins, len(params.leverages)
    return LiqMap(
        symbol=symbol, window=window, exchanges=(), at=at, price=price, bin_price=grid.centres,
        long_usd=np.zeros(b), short_usd=np.zeros(b), leverages=np.asarray(params.leverages, dtype=np.float64),
        long_by_lev=np.zeros((v, b)), short_by_lev=np.zeros((v, b)), heat_time=np.zeros(0, dtype=np.int64),
        heat_long=np.zeros((0, b)), heat_short=np.zeros((0, b)), close_time=np.zeros(0, dtype=np.int64),
        close=np.zeros(0), synthetic=synthetic, notes=notes,
    )


@dataclass(frozen=True)
class _ReferencePath:
    """The freshest series' candles in the window: ``close_time`` (k,) int64 ms UTC candle closes, ``low`` /
    ``high`` (k,) price; ``times`` (t,) int64 ms UTC heatmap column times and ``close_line`` (t,) the close price
    at each column."""

    close_time: I64
    low: F64
    high: F64
    times: I64
    close_line: F64


def _reference_path(ref: MarketSeries, start_ms: int, params: ModelParams) -> _ReferencePath:
    """The price path of ``ref`` (the freshest series) from ``start_ms`` (ms UTC) on, and the heatmap columns."""
    ref_close = ref.timestamp + ref.timeframe_ms
    ref_start = int(np.searchsorted(ref_close, start_ms, side="right"))
    times = column_times(ref_close[ref_start:].astype(np.int64), params.heat_columns)
    close_line = ref.close[ref_start:][np.searchsorted(ref_close[ref_start:], times)] if times.size else np.zeros(0)
    return _ReferencePath(
        close_time=ref_close[ref_start:].astype(np.int64), low=np.asarray(ref.low[ref_start:], dtype=np.float64),
        high=np.asarray(ref.high[ref_start:], dtype=np.float64), times=times,
        close_line=np.asarray(close_line, dtype=np.float64),
    )


@dataclass
class _Pending:
    """Pending liquidations summed over exchanges: ``long_lev`` / ``short_lev`` (v leverages, b bins) USD,
    ``heat_long`` / ``heat_short`` (t columns, b bins) USD, the model's notes and the exchanges that contributed."""

    long_lev: F64
    short_lev: F64
    heat_long: F64
    heat_short: F64
    notes: list[str]
    exchanges: list[str]
    next_long: F64  # (b,) USD: the next-hour layer (bot.model.openings), summed over exchanges
    next_short: F64
    candles: int = 0  # candles of every contributing series in the window
    from_oi: int = 0  # of which modelled from open-interest changes (the rest from the volume proxy)

    @property
    def oi_share(self) -> float:
        """Share of the window's candles modelled from open interest, 0..1 (NaN when none contributed)."""
        return self.from_oi / self.candles if self.candles else float("nan")


def _pending_over_exchanges(
    live: Sequence[MarketSeries], grid: Grid, times: I64, start_ms: int, params: ModelParams, price: float, at: int
) -> _Pending:
    """Run the flow model on each series from ``start_ms`` (ms UTC) and add up its pending book and heatmap on
    ``grid`` at the column ``times`` (t,) ms UTC, and the next-hour layer at ``at`` around ``price``. Every series
    with candles in the window counts as a contributing exchange; one without any deposit adds nothing pending."""
    v, b = len(params.leverages), grid.n_bins
    long_lev, short_lev = np.zeros((v, b)), np.zeros((v, b))
    heat_long = heat_short = np.zeros((times.size, b))
    notes: list[str] = []
    exchanges: list[str] = []
    candles = from_oi = 0
    next_long, next_short = np.zeros(b), np.zeros(b)
    for s in live:
        start = int(np.searchsorted(s.timestamp + s.timeframe_ms, start_ms, side="right"))
        flows = series_flows(s, start, params)
        notes.extend(flows.notes)
        if flows.n == 0:
            continue
        exchanges.append(s.exchange)  # it delivered data, even when nothing of it is pending (OI only fell)
        candles, from_oi = candles + flows.n, from_oi + flows.from_oi
        if not (flows.deposit > 0).any():
            continue
        lv, sv = pending_by_leverage(flows, grid, params, s.tiers, end_ms=int(times[-1]) if times.size else None)
        long_lev += lv
        short_lev += sv
        nl, ns = next_hour_layer(s, grid, price, at, params, flows.deposit_per_proxy)
        next_long += nl
        next_short += ns
        hl, hs = heatmap(flows, grid, times, params, s.tiers)
        heat_long, heat_short = heat_long + hl, heat_short + hs
    return _Pending(long_lev, short_lev, heat_long, heat_short, notes, exchanges, next_long, next_short, candles,
                    from_oi)


def build_map(
    series: Sequence[MarketSeries],
    *,
    window: str,
    at_ms: int | None = None,
    params: ModelParams = DEFAULT_PARAMS,
    previous: Sequence[Cluster] = (),
) -> LiqMap:
    """Estimate pending liquidations of one symbol from each exchange's series, aggregated in USD on one grid.

    Uses only candles closed by ``at_ms`` (default: the latest close of any series) and positions opened in the
    last ``window_ms(window)``. The series whose last candle closed latest is the price and time reference.
    ``previous`` are the clusters of the last map of this (symbol, window), for stable cluster ids. Never raises on
    empty or degenerate input: returns an all-zero map with a note. Raises ``ValueError`` for an unknown window.
    """
    span = window_ms(window)
    series = list(series)
    symbol = series[0].symbol if series else ""
    synthetic = any(s.synthetic for s in series)
    at = at_ms if at_ms is not None else max((s.last_close_time for s in series), default=0)
    cut = [s.upto(at) for s in series]
    live = [s for s in cut if s.n > 0]
    if not live:
        grid = grid_around(1.0, params.range_pct, params.n_bins)
        return _empty(symbol, window, at, float("nan"), grid, params, synthetic, ("no candles before this time",))
    ref = max(live, key=lambda s: s.last_close_time)  # price and time come from the freshest series
    price = float(ref.close[-1])
    grid = grid_around(price, params.range_pct, params.n_bins)
    start_ms = at - span
    path = _reference_path(ref, start_ms, params)
    pending = _pending_over_exchanges(live, grid, path.times, start_ms, params, price, at)
    notes = pending.notes
    oi, funding, change = _summaries(live, start_ms)
    long_usd, short_usd = pending.long_lev.sum(axis=0), pending.short_lev.sum(axis=0)
    if not (long_usd.sum() > 0 or short_usd.sum() > 0):
        notes.append("nothing pending: no position inflow in this window (flat market or zero OI)")
    clusters = find_clusters(grid.centres, long_usd, short_usd, price, params, previous)
    return LiqMap(
        symbol=symbol, window=window, exchanges=tuple(dict.fromkeys(pending.exchanges)), at=at, price=price,
        bin_price=grid.centres, long_usd=long_usd, short_usd=short_usd,
        leverages=np.asarray(params.leverages, dtype=np.float64), long_by_lev=pending.long_lev,
        short_by_lev=pending.short_lev, heat_time=path.times, heat_long=pending.heat_long,
        heat_short=pending.heat_short, close_time=path.times.copy(), close=path.close_line, clusters=clusters,
        synthetic=synthetic, oi_usd=oi, funding_rate=funding, oi_change_pct=change, notes=tuple(dict.fromkeys(notes)),
        oi_share=pending.oi_share,
        path_time=path.close_time, path_low=path.low, path_high=path.high,
        next_long_usd=pending.next_long, next_short_usd=pending.next_short,
    )
