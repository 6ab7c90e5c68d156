"""``liqmap backtest``: score liquidation forecasts made at past instants against the liquidations that followed.

At each aligned step time ``t`` (starting once one ``window`` of history exists) the map is built with only the
candles that had closed by ``t`` (``build_map(at_ms=t)``, no lookahead), and turned into a forecast of the
liquidated USD per price over ``(t, t + horizon]`` (``bot.model.forecast``: pending levels x reach probability plus
positions opened during the horizon, at recorded/bankruptcy prices). ``prediction="pending"`` scores the raw
pending map instead. The prediction and the real liquidation notional stamped in ``(t, t + horizon]`` are
bucketed on the 80 buckets ``p * (1 + k * 0.25%)`` (``bot.model.scoring``) and scored: capture@10% against the
*nearest* and *uniform* baselines, and the visited Spearman against the ``-|bucket - p|`` baseline. Only snapshots
with realized notional are scored.

Visited buckets: price is continuous, so it traded through every price between ``p`` and the extremes of the
candles overlapping the horizon. Where no candle covers part of the horizon (a gap in the tape, or liquidations
stamped after the last candle), the recorded liquidation prices there stand in for the price path.
Staleness: a snapshot whose latest candle closed more than ``STALE_CANDLES`` timeframes before ``t`` is skipped
(a map of a market with no recent data is not a forecast, whatever the step); the report counts them. Sparse
tapes (e.g. candles aggregated from a filtered trades file) therefore score only the steps that fall inside
their covered stretches; a step no longer than the timeframe scores every fresh instant.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from bot.errors import LiqmapError
from bot.market.types import MarketSeries
from bot.model.build import build_map
from bot.model.forecast import DEFAULT_FORECAST, ForecastParams, forecast_liquidations
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.scoring import SnapshotScore, bucket_edges, score_snapshot, to_buckets, visited_mask
from bot.model.types import LiqMap, window_ms
from bot.timeparse import iso_utc, parse_duration

F64 = npt.NDArray[np.float64]

STALE_CANDLES = 3  # same rule as an OI sample: older than three candles is not current
Prediction = Literal["forecast", "pending"]


def _weighted_mean(values: list[float], weights: list[float]) -> float:
    """Mean of the finite ``values`` weighted by ``weights`` (NaN when none are finite)."""
    v, w = np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(v) & (w > 0)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


def _dur(ms: int) -> str:
    """Duration in ms as the largest whole unit: ``90m``, ``24h``, ``3d``."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 60_000:g}m"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 and math.isfinite(a) else float("nan")


@dataclass(frozen=True)
class BacktestReport:
    """Scores of every scored snapshot plus their realized-notional-weighted summary."""

    exchange: str
    symbol: str
    step_ms: int
    window: str
    horizon_ms: int
    snapshots: tuple[SnapshotScore, ...]
    n_steps: int
    n_stale: int
    prediction: Prediction = "forecast"

    def _w(self) -> list[float]:
        return [s.realized_usd for s in self.snapshots]

    @property
    def capture_map(self) -> float:
        """Realized-notional-weighted mean capture@10% of the map."""
        return _weighted_mean([s.capture_map for s in self.snapshots], self._w())

    @property
    def capture_nearest(self) -> float:
        """Same for the nearest baseline (4 buckets each side of price)."""
        return _weighted_mean([s.capture_nearest for s in self.snapshots], self._w())

    @property
    def capture_uniform(self) -> float:
        """Same for the uniform baseline (always 0.10)."""
        return _weighted_mean([s.capture_uniform for s in self.snapshots], self._w())

    @property
    def spearman_map(self) -> float:
        """Weighted mean visited Spearman of the map (snapshots where both Spearman values are defined)."""
        both = [s for s in self.snapshots if math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest)]
        return _weighted_mean([s.spearman_map for s in both], [s.realized_usd for s in both])

    @property
    def spearman_baseline(self) -> float:
        """Weighted mean visited Spearman of the ``-|bucket - p|`` baseline on the same snapshots."""
        both = [s for s in self.snapshots if math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest)]
        return _weighted_mean([s.spearman_nearest for s in both], [s.realized_usd for s in both])

    @property
    def beat_nearest_share(self) -> float:
        """Share of scored snapshots where the map's capture is strictly above the nearest baseline's."""
        if not self.snapshots:
            return float("nan")
        return sum(s.capture_map > s.capture_nearest for s in self.snapshots) / len(self.snapshots)

    def to_json(self) -> dict[str, Any]:
        """Summary as plain floats/ints (NaN becomes ``None``)."""

        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "step_ms": int(self.step_ms),
            "window": self.window,
            "horizon_ms": int(self.horizon_ms),
            "prediction": self.prediction,
            "steps": int(self.n_steps),
            "stale_skipped": int(self.n_stale),
            "snapshots": len(self.snapshots),
            "realized_usd": float(sum(self._w())),
            "capture_map": f(self.capture_map),
            "capture_nearest": f(self.capture_nearest),
            "capture_uniform": f(self.capture_uniform),
            "lift_vs_nearest": f(_ratio(self.capture_map, self.capture_nearest)),
            "lift_vs_uniform": f(_ratio(self.capture_map, self.capture_uniform)),
            "beat_nearest_share": f(self.beat_nearest_share),
            "spearman_map": f(self.spearman_map),
            "spearman_baseline": f(self.spearman_baseline),
            "spearman_snapshots": sum(
                math.isfinite(s.spearman_map) and math.isfinite(s.spearman_nearest) for s in self.snapshots
            ),
        }

    def format_table(self) -> str:
        """Human-readable summary table."""
        j = self.to_json()

        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{x * 100:6.1f}%"

        def num(x: float | None, fmt: str = "{:+.3f}") -> str:
            return "n/a" if x is None else fmt.format(x)

        lines = [
            f"backtest {self.exchange} {self.symbol} ({self.prediction}): step {_dur(self.step_ms)}, "
            f"window {self.window}, "
            f"horizon {_dur(self.horizon_ms)}",
            f"snapshots scored {j['snapshots']} of {j['steps']} steps with realized liquidations "
            f"({j['stale_skipped']} skipped as stale); realized notional summed over snapshots "
            f"{j['realized_usd']:,.0f} USD",
            "",
            f"{'metric':<22}{self.prediction:>10}{'nearest':>10}{'uniform':>10}",
            f"{'capture@10%':<22}{pct(j['capture_map']):>10}{pct(j['capture_nearest']):>10}"
            f"{pct(j['capture_uniform']):>10}",
            f"{'lift (vs baseline)':<22}{'':>10}{num(j['lift_vs_nearest'], '{:.2f}x'):>10}"
            f"{num(j['lift_vs_uniform'], '{:.2f}x'):>10}",
            f"{'visited Spearman':<22}{num(j['spearman_map']):>10}{num(j['spearman_baseline']):>10}{'':>10}",
            f"{self.prediction} beats nearest on capture in {pct(j['beat_nearest_share']).strip()} of snapshots",
        ]
        return "\n".join(lines)


def _visited_range(series: MarketSeries, t: int, end: int, price: float) -> tuple[float, float]:
    """(low, high) USD traded in (t, end]: candles overlapping it, plus liquidation prices no candle covers."""
    tf = series.timeframe_ms
    lo_i = int(np.searchsorted(series.timestamp + tf, t, side="right"))
    hi_i = int(np.searchsorted(series.timestamp, end, side="left"))
    low = min(price, float(series.low[lo_i:hi_i].min())) if hi_i > lo_i else price
    high = max(price, float(series.high[lo_i:hi_i].max())) if hi_i > lo_i else price
    a, b = np.searchsorted(series.liq_timestamp, [t, end], side="right")
    lt, lp = series.liq_timestamp[a:b], series.liq_price[a:b]
    if lt.size:
        k = np.searchsorted(series.timestamp, lt, side="right") - 1
        covered = (k >= 0) & (lt < series.timestamp[np.clip(k, 0, None)] + tf)
        free = lp[~covered]
        if free.size:
            low, high = min(low, float(free.min())), max(high, float(free.max()))
    return low, high


def score_map(
    liq_map: LiqMap, series: MarketSeries, horizon_ms: int, predicted_usd: F64 | None = None
) -> SnapshotScore:
    """Score one snapshot against ``series``' liquidations in ``(map.at, map.at + horizon_ms]``.

    ``predicted_usd``: (b,) USD on the map's bins (a forecast); default the map's pending long + short USD.
    """
    t, p = liq_map.at, liq_map.price
    edges = bucket_edges(p)
    usd = liq_map.long_usd + liq_map.short_usd if predicted_usd is None else predicted_usd
    pred = to_buckets(edges, liq_map.bin_price, usd)
    a, b = np.searchsorted(series.liq_timestamp, [t, t + horizon_ms], side="right")
    notional = series.liq_price[a:b] * series.liq_amount[a:b]
    real = to_buckets(edges, series.liq_price[a:b], notional)
    low, high = _visited_range(series, t, t + horizon_ms, p)
    return score_snapshot(t, p, pred, real, visited_mask(edges, low, high))


def _dump_row(liq_map: LiqMap, score: SnapshotScore, forecast_usd: F64 | None) -> dict[str, Any]:
    """One ``--dump`` line: the ``map --json`` object, the scored ``forecast_usd`` per bin (when a forecast was
    scored) and a ``score`` object (NaN as ``null``)."""
    row = liq_map.to_json()
    if forecast_usd is not None:
        row["forecast_usd"] = forecast_usd.tolist()
    row["score"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in vars(score).items()}
    return row


def _check(series: MarketSeries, span: int) -> None:
    if series.liq_timestamp.size == 0:
        raise LiqmapError(
            f"{series.exchange} {series.symbol}: the dataset has no liquidations (liquidations.csv), nothing to score"
        )
    if series.n == 0:
        raise LiqmapError(f"{series.exchange} {series.symbol}: the dataset has no candles")
    if int(series.timestamp[0]) + span >= int(series.liq_timestamp[-1]):
        raise LiqmapError(
            f"{series.exchange} {series.symbol}: too little history: the map needs {span // 3_600_000}h of candles "
            f"before the last liquidation ({iso_utc(int(series.liq_timestamp[-1]))}); try a shorter --window"
        )


def run_backtest(
    series: MarketSeries,
    *,
    step: str = "1h",
    window: str = "24h",
    horizon: str = "24h",
    params: ModelParams = DEFAULT_PARAMS,
    dump: str | Path | None = None,
    prediction: Prediction = "forecast",
    forecast_params: ForecastParams = DEFAULT_FORECAST,
) -> BacktestReport:
    """Score maps built every ``step`` against the real liquidations of ``series`` (see the module docstring).

    Raises ``LiqmapError`` (a ``ValueError``) for bad durations, an unknown window, a dataset without
    liquidations or with too little history, or an unknown ``prediction``.
    """
    if prediction not in ("forecast", "pending"):
        raise LiqmapError(f"unknown prediction {prediction!r}; use forecast or pending")
    step_ms, horizon_ms = parse_duration(step), parse_duration(horizon)
    try:
        span = window_ms(window)
    except ValueError as exc:
        raise LiqmapError(str(exc)) from None
    _check(series, span)
    tf = series.timeframe_ms
    stale_after = STALE_CANDLES * tf
    first = -(-(int(series.timestamp[0]) + span) // step_ms) * step_ms
    last = int(series.liq_timestamp[-1]) - 1
    close_times = series.timestamp + tf
    scores: list[SnapshotScore] = []
    n_steps = n_stale = 0
    rows: list[str] = []
    cover_start, cover_end = int(series.liq_timestamp[0]), int(series.liq_timestamp[-1])
    first = max(first, -(-cover_start // step_ms) * step_ms)
    for t in range(first, last + 1, step_ms):
        h_ms = min(horizon_ms, cover_end - t)  # realized liquidations are unknown after the feed ends
        a, b = np.searchsorted(series.liq_timestamp, [t, t + h_ms], side="right")
        if b <= a or not float((series.liq_price[a:b] * series.liq_amount[a:b]).sum()) > 0:
            continue
        n_steps += 1
        k = int(np.searchsorted(close_times, t, side="right"))
        if k == 0 or t - int(close_times[k - 1]) > stale_after:
            n_stale += 1
            continue
        liq_map = build_map([series], window=window, at_ms=t, params=params)
        fc = None
        if prediction == "forecast":
            fc = forecast_liquidations(liq_map, [series], h_ms, params, forecast_params).total_usd
        score = score_map(liq_map, series, h_ms, fc)
        scores.append(score)
        if dump is not None:
            rows.append(json.dumps(_dump_row(liq_map, score, fc)))
    if dump is not None:
        try:
            Path(dump).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        except OSError as exc:
            raise LiqmapError(f"cannot write --dump file {dump}: {exc.strerror or exc}") from None
    return BacktestReport(
        series.exchange, series.symbol, step_ms, window, horizon_ms, tuple(scores), n_steps, n_stale, prediction
    )
