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

Traded-range score (``bot.backtest_range``, statistics in ``bot.model.range_score``): the same maps, at every
step whose next bar ``(t, t + bar]`` has all its candles and is known to the liquidation record, pair the map's
pending USD inside the bar's traded range with the USD liquidated in the bar, per side. It reads
``liquidation_bars.csv`` per-bar totals when the dataset has them (no prices needed, so capture and the visited
Spearman are skipped there with a note), else the ``liquidations.csv`` events. A step shorter than the bar makes
overlapping bars (observations that are not independent). ``since``/``until`` restrict the step times of both
scores; ``halves`` splits the range steps in two halves by time.

``--dump``: one JSON line per step scored by either score. Capture rows are the ``map --json`` object plus
``forecast_usd`` and ``score``; rows with a range observation carry a ``range`` object (``RangeStep.to_json``);
rows scored only for the range hold just ``at``, ``price`` and ``range``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.backtest_estimate import estimated_events
from bot.backtest_range import Candles, RealizedRecord, range_step, realized_record
from bot.backtest_report import BacktestReport, Prediction, RangeReport
from bot.errors import LiqmapError
from bot.market.replay import LiquidationBars
from bot.market.types import MarketSeries
from bot.model.build import build_map
from bot.model.forecast import DEFAULT_FORECAST, ForecastParams, forecast_liquidations
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.range_score import RangeStep
from bot.model.scoring import SnapshotScore, bucket_edges, score_snapshot, to_buckets, visited_mask
from bot.model.types import LiqMap, window_ms
from bot.timeparse import iso_utc, parse_duration

F64 = npt.NDArray[np.float64]

STALE_CANDLES = 3  # same rule as an OI sample: older than three candles is not current

__all__ = ["BacktestReport", "Prediction", "run_backtest", "score_map"]


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

    ``predicted_usd``: (b,) USD on the map's bins (a forecast); default the map's pending long + short USD. The raw
    map's visited Spearman is scored either way (``spearman_pending``).
    """
    t, p = liq_map.at, liq_map.price
    edges = bucket_edges(p)
    pending = to_buckets(edges, liq_map.bin_price, liq_map.long_usd + liq_map.short_usd)
    pred = pending if predicted_usd is None else to_buckets(edges, liq_map.bin_price, predicted_usd)
    a, b = np.searchsorted(series.liq_timestamp, [t, t + horizon_ms], side="right")
    notional = series.liq_price[a:b] * series.liq_amount[a:b]
    real = to_buckets(edges, series.liq_price[a:b], notional)
    low, high = _visited_range(series, t, t + horizon_ms, p)
    return score_snapshot(t, p, pred, real, visited_mask(edges, low, high), pending)


def _dump_row(liq_map: LiqMap, score: SnapshotScore, forecast_usd: F64 | None) -> dict[str, Any]:
    """One ``--dump`` line: the ``map --json`` object, the scored ``forecast_usd`` per bin (when a forecast was
    scored) and a ``score`` object (NaN as ``null``)."""
    row = liq_map.to_json()
    if forecast_usd is not None:
        row["forecast_usd"] = forecast_usd.tolist()
    row["score"] = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in vars(score).items()}
    return row


def _ceil(x: int, step: int) -> int:
    return -(-x // step) * step


@dataclass(frozen=True)
class _Grid:
    """Step times ``lo..hi`` (inclusive, multiples of the step) of one score; empty when ``lo > hi``."""

    lo: int
    hi: int

    def has(self, t: int) -> bool:
        return self.lo <= t <= self.hi

    def clip(self, lo: int, hi: int) -> _Grid:
        return _Grid(max(self.lo, lo), min(self.hi, hi))


def _check(series: MarketSeries, span: int, record: RealizedRecord | None) -> None:
    if series.liq_timestamp.size == 0 and record is None:
        raise LiqmapError(
            f"{series.exchange} {series.symbol}: the dataset has no liquidations (liquidations.csv or "
            "liquidation_bars.csv), nothing to score"
        )
    if series.n == 0:
        raise LiqmapError(f"{series.exchange} {series.symbol}: the dataset has no candles")
    end = max(int(series.liq_timestamp[-1]) if series.liq_timestamp.size else 0, record.end if record else 0)
    if int(series.timestamp[0]) + span >= end:
        raise LiqmapError(
            f"{series.exchange} {series.symbol}: too little history: the map needs {span // 3_600_000}h of candles "
            f"before the last liquidation ({iso_utc(end)}); try a shorter --window"
        )


def _limits(since: int | None, until: int | None) -> tuple[int, int]:
    if since is not None and until is not None and since >= until:
        raise LiqmapError(f"--from {iso_utc(since)} is not before --until {iso_utc(until)}")
    return (since if since is not None else 0), (until - 1 if until is not None else 2**62)


def _halves_split(grid: _Grid, step_ms: int) -> int | None:
    """The step time that halves the range grid (the second half starts there); None with fewer than 2 steps."""
    count = (grid.hi - grid.lo) // step_ms + 1 if grid.hi >= grid.lo else 0
    return grid.lo + ((count + 1) // 2) * step_ms if count >= 2 else None


def _notes(
    has_events: bool, record: RealizedRecord | None, rng: _Grid, bar: str, window: str, limited: bool
) -> list[str]:
    """What the report could not score, and why."""
    notes: list[str] = []
    if not has_events:
        notes.append(
            "no liquidation prices (only liquidation_bars.csv): capture@10% and the visited Spearman are not "
            "scored; the traded-range score is"
        )
    if record is not None and rng.lo > rng.hi:
        notes.append(
            f"the liquidation record ({iso_utc(record.start)} to {iso_utc(record.end)}) holds no whole {bar} bar "
            f"after {window} of candle history{' between --from and --until' if limited else ''}: "
            "no traded-range score (try a shorter --bar and --step)"
        )
    return notes


@dataclass(frozen=True)
class _Durations:
    """The parsed durations of a backtest, all in ms: step, horizon, traded-range bar and map window span."""

    step_ms: int
    horizon_ms: int
    bar_ms: int
    span_ms: int


def _parse_durations(prediction: str, step: str, horizon: str, bar: str, window: str) -> _Durations:
    """Check ``prediction`` and parse the durations; raises ``LiqmapError`` for an unknown prediction or window or a
    duration that is not positive."""
    if prediction not in ("forecast", "pending"):
        raise LiqmapError(f"unknown prediction {prediction!r}; use forecast or pending")
    step_ms, horizon_ms, bar_ms = parse_duration(step), parse_duration(horizon), parse_duration(bar)
    for name, value in (("step", step_ms), ("horizon", horizon_ms), ("bar", bar_ms)):
        if value <= 0:
            raise LiqmapError(f"--{name} {value}ms: it must be positive")
    try:
        span = window_ms(window)
    except ValueError as exc:
        raise LiqmapError(str(exc)) from None
    return _Durations(step_ms, horizon_ms, bar_ms, span)


@dataclass(frozen=True)
class _Plan:
    """The step times of each score (ms UTC): ``cap`` the capture score's (inside the liquidation feed's coverage),
    ``rng`` the traded-range score's (inside the liquidation record); ``cover_end`` the feed's last record (0
    without events)."""

    cap: _Grid
    rng: _Grid
    has_events: bool
    cover_end: int
    holes: tuple[tuple[int, int], ...] = ()  # spans whose liquidations are unknown (--estimate-prices)

    def knows(self, lo: int, hi: int) -> bool:
        """Whether the realized liquidations of ``(lo, hi]`` (ms UTC) are known: it overlaps no hole."""
        return not any(start < hi and end > lo for start, end in self.holes)

    def step_times(self, step_ms: int) -> range:
        """Every step time either score may use, ascending (empty when both grids are)."""
        live = [g for g in (self.cap, self.rng) if g.lo <= g.hi]
        return range(min((g.lo for g in live), default=1), max((g.hi for g in live), default=0) + 1, step_ms)


def _plan_steps(
    series: MarketSeries, record: RealizedRecord | None, d: _Durations, lo_limit: int, hi_limit: int,
    holes: tuple[tuple[int, int], ...] = (),
) -> _Plan:
    """Both scores' step grids: aligned to the step, once one window of candles exists, where realized
    liquidations are known, clipped to ``lo_limit..hi_limit`` (ms UTC, inclusive)."""
    first = _ceil(int(series.timestamp[0]) + d.span_ms, d.step_ms)
    has_events = series.liq_timestamp.size > 0
    if has_events:  # realized liquidations are unknown before the feed's first record and after its last one
        cover_start, cover_end = int(series.liq_timestamp[0]), int(series.liq_timestamp[-1])
        cap = _Grid(max(first, _ceil(cover_start, d.step_ms)), cover_end - 1)
    else:
        cover_end = 0
        cap = _Grid(1, 0)
    rng = _Grid(max(first, _ceil(record.start, d.step_ms)), record.end - d.bar_ms) if record else _Grid(1, 0)
    return _Plan(cap.clip(lo_limit, hi_limit), rng.clip(lo_limit, hi_limit), has_events, cover_end, holes)


@dataclass
class _Tally:
    """What the step loop adds up: capture scores, range observations, ``--dump`` lines and the step counts."""

    scores: list[SnapshotScore] = field(default_factory=list)
    range_steps: list[RangeStep] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    n_steps: int = 0
    n_stale: int = 0
    skipped_record: int = 0
    skipped_candles: int = 0
    range_stale: int = 0


def _has_realized(series: MarketSeries, t: int, h_ms: int) -> bool:
    """Whether any liquidation notional (USD) was stamped in ``(t, t + h_ms]`` (ms UTC)."""
    a, b = np.searchsorted(series.liq_timestamp, [t, t + h_ms], side="right")
    return b > a and float((series.liq_price[a:b] * series.liq_amount[a:b]).sum()) > 0


_RangeObservation = tuple[tuple[float, float], tuple[float, float]]  # (bar low/high price, realized long/short USD)


def _range_observation(
    record: RealizedRecord | None, rng: _Grid, candles: Candles, t: int, tally: _Tally
) -> _RangeObservation | None:
    """The next bar's traded range and realized liquidations at step ``t``, or None (counting why it was
    skipped: the record does not know the bar, or its candles are missing)."""
    if record is None or not rng.has(t):
        return None
    realized = record.realized(t)
    bar_range = candles.bar_range(t) if realized is not None else None
    if realized is None:
        tally.skipped_record += 1
    elif bar_range is None:
        tally.skipped_candles += 1
    else:
        return (bar_range, realized)
    return None


@dataclass(frozen=True)
class _StepScorer:
    """Builds the map at one step and scores it (capture and/or traded range), with the run's settings."""

    series: MarketSeries
    window: str
    params: ModelParams
    prediction: Prediction
    forecast_params: ForecastParams
    bar_ms: int
    candles: Candles
    dump: str | Path | None

    def score(self, t: int, h_ms: int, scored: bool, in_range: _RangeObservation | None, tally: _Tally) -> None:
        """Build the map with the candles closed by ``t`` (ms UTC), add its scores to ``tally`` and, with
        ``--dump``, its JSON line."""
        liq_map = build_map([self.series], window=self.window, at_ms=t, params=self.params)
        row: dict[str, Any] = {"at": t, "price": liq_map.price}
        if in_range is not None:
            tally.range_steps.append(
                range_step(liq_map, *in_range, self.bar_ms, self.candles.trailing_notional(t))
            )
        if scored:
            fc = None
            if self.prediction == "forecast":
                fc = forecast_liquidations(liq_map, [self.series], h_ms, self.params, self.forecast_params).total_usd
            score = score_map(liq_map, self.series, h_ms, fc)
            tally.scores.append(score)
            if self.dump is not None:
                row = _dump_row(liq_map, score, fc)
        if self.dump is not None:
            if in_range is not None:
                row["range"] = tally.range_steps[-1].to_json()
            tally.rows.append(json.dumps(row))


def _run_steps(
    series: MarketSeries, record: RealizedRecord | None, plan: _Plan, d: _Durations, scorer: _StepScorer
) -> _Tally:
    """Walk the step times: skip steps neither score can use and stale ones (counted), score the rest."""
    close_times = series.timestamp + series.timeframe_ms
    stale_after = STALE_CANDLES * series.timeframe_ms
    tally = _Tally()
    for t in plan.step_times(d.step_ms):
        h_ms = min(d.horizon_ms, plan.cover_end - t)  # realized liquidations are unknown after the feed ends
        scored = plan.cap.has(t) and plan.knows(t, t + h_ms) and _has_realized(series, t, h_ms)
        in_range = _range_observation(record, plan.rng, scorer.candles, t, tally)
        if not scored and in_range is None:
            continue
        tally.n_steps += scored
        k = int(np.searchsorted(close_times, t, side="right"))
        if k == 0 or t - int(close_times[k - 1]) > stale_after:
            tally.n_stale += scored
            tally.range_stale += in_range is not None
            continue
        scorer.score(t, h_ms, scored, in_range, tally)
    return tally


def _write_dump(dump: str | Path, rows: list[str]) -> None:
    """Write the ``--dump`` lines; raises ``LiqmapError`` when the file cannot be written."""
    try:
        Path(dump).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    except OSError as exc:
        raise LiqmapError(f"cannot write --dump file {dump}: {exc.strerror or exc}") from None


def run_backtest(
    series: MarketSeries,
    *,
    bars: LiquidationBars | None = None,
    step: str = "1h",
    window: str = "24h",
    horizon: str = "24h",
    bar: str = "1h",
    since: int | None = None,
    until: int | None = None,
    halves: bool = False,
    params: ModelParams = DEFAULT_PARAMS,
    dump: str | Path | None = None,
    prediction: Prediction = "forecast",
    forecast_params: ForecastParams = DEFAULT_FORECAST,
    estimate_prices: bool = False,
) -> BacktestReport:
    """Score maps built every ``step`` against the real liquidations of ``series`` (``liquidations.csv`` events)
    and/or the per-bar totals ``bars`` (see the module docstring). ``since``/``until`` (ms UTC) keep the steps
    ``since <= t < until``; ``halves`` also scores the traded range on each half of the scored span.
    ``estimate_prices``: a dataset with only per-bar totals gets estimated liquidation prices
    (``bot.backtest_estimate``), so capture and the visited Spearman are scored too, flagged as estimated.

    Raises ``LiqmapError`` (a ``ValueError``) for bad durations, an unknown window, a dataset without
    liquidations or with too little history, a bar that is not a whole number of candles (or of liquidation
    bars), or an unknown ``prediction``.
    """
    d = _parse_durations(prediction, step, horizon, bar, window)
    holes: tuple[tuple[int, int], ...] = ()
    if estimate_prices:
        if bars is None or not bars.timestamp.size:
            raise LiqmapError("--estimate-prices needs liquidation_bars.csv (per-bar liquidation totals)")
        estimated = estimated_events(series, bars)
        series, holes = estimated.series, estimated.holes
    record = realized_record(series, bars, d.bar_ms)
    _check(series, d.span_ms, record)
    lo_limit, hi_limit = _limits(since, until)
    candles = Candles(series, d.bar_ms)
    plan = _plan_steps(series, record, d, lo_limit, hi_limit, holes)
    scorer = _StepScorer(series, window, params, prediction, forecast_params, d.bar_ms, candles, dump)
    tally = _run_steps(series, record, plan, d, scorer)
    if dump is not None:
        _write_dump(dump, tally.rows)
    notes = _notes(plan.has_events, record, plan.rng, bar, window, limited=(since, until) != (None, None))
    if estimate_prices:
        notes.insert(0, (
            "capture@10% and the visited Spearman are ESTIMATED: each bar's liquidated USD placed over the lower "
            f"(longs) / upper (shorts) half of its candles' range; {len(holes)} bars unknown, steps whose horizon "
            "overlaps one not scored (docs/model.md)"
        ))
    range_report = None
    if record is not None:
        range_report = RangeReport(
            d.bar_ms, record.source, tuple(tally.range_steps), tally.skipped_record, tally.skipped_candles,
            tally.range_stale, _halves_split(plan.rng, d.step_ms) if halves else None,
        )
    return BacktestReport(
        series.exchange, series.symbol, d.step_ms, window, d.horizon_ms, tuple(tally.scores), tally.n_steps,
        tally.n_stale, prediction, range=range_report, capture_scored=plan.has_events, since=since, until=until,
        notes=tuple(notes), capture_estimated=estimate_prices,
    )
