"""``liqmap backtest --alerts``: replay an alert subscription over a dataset through the periodic job's own alert
code, and score what it would have sent (statistics in ``bot.model.alert_score``, report in
``bot.backtest_alerts_report``).

The replay is the job's tick, step by step, with no lookahead: at each step ``t`` (aligned to the step, once one
window of history exists) the exchanges whose newest candle closed by ``t`` is not stale (the job's freshness rule,
``bot.market.freshness.is_live``, with the step as the tick interval) go into ``build_map(at_ms=t)`` with the
previous map's clusters (stable ids, as ``MapEngine`` does); a map with nothing pending is not evaluated (the job
skips it too). ``evaluate_map`` then runs on the one subscription built from the parsed spec, with the cluster states
carried from step to step exactly as the job stores them, the price path of ``bot.alerts.job.price_path`` since the
previous evaluated map, and sweeps alerted only when that map is at most 3 steps old. Every approach alert is
recorded with its zone, distance and squeeze-risk score.

Outcomes (over ``(t, t + horizon]``): whether a candle's wick reached the zone's near edge and how soon (unknown when
the candles end first), and the USD of the alerted side liquidated inside the zone: ``liquidations.csv`` events of
that side with prices in ``[low, high]``, or, for bars-only datasets, the ``liquidation_bars.csv`` USD of that side
in the bars (opening at or after ``t``) whose candles' range overlapped the zone. The liquidation record covers an
alert from its first record to its last (the horizon is clipped there); an event feed silent for more than 12 h
around the horizon does not cover it. The same outcomes are measured at the zone mirrored across price (the
headline baseline) and at a shuffled zone (seeded), so "price came back to a level 1% away" is not counted as skill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.alerts.evaluate import StateKey, evaluate_map
from bot.alerts.job import price_path
from bot.backtest_alerts_report import AlertBacktestReport
from bot.backtest_range import FEED_GAP_MS
from bot.chat.parse import AlertSpec
from bot.errors import LiqmapError
from bot.market.freshness import is_live, stale_budget_ms
from bot.market.replay import LiquidationBars
from bot.market.types import Freshness, MarketSeries
from bot.model.alert_score import AlertRecord, Candles, Outcome, Zone, shuffled_zones
from bot.model.build import build_map
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import WINDOWS, Cluster, window_ms
from bot.storage.records import ClusterStateRec, NewAlert, SubscriptionRec
from bot.timeparse import iso_utc, parse_duration

__all__ = ["AlertBacktestReport", "Fired", "Replay", "replay_alerts", "run_alert_backtest", "subscription_for"]


def subscription_for(spec: AlertSpec, created_at: int = 0) -> SubscriptionRec:
    """The subscription the job would hold after ``alert add`` with ``spec`` (id 1, chat 1, enabled)."""
    return SubscriptionRec(
        id=1, chat_id=1, symbol=spec.symbol, window=spec.window, proximity_pct=spec.proximity_pct,
        min_usd=spec.min_usd, min_share=spec.min_share, sides=spec.sides, cooldown_s=spec.cooldown_s, enabled=True,
        created_at=created_at, updated_at=created_at,
    )


@dataclass(frozen=True)
class Fired:
    """One approach alert of the replay: the outbox row the job would have queued at ``t``."""

    t: int
    alert: NewAlert


@dataclass
class Replay:
    """What the replay did: ``fired`` approach alerts; ``steps`` evaluated; ``stale`` steps without live data;
    ``empty`` maps with nothing pending; ``sweeps`` follow-ups sent; ``lo``/``hi`` the first and last step time;
    ``first``/``last`` the first and last evaluated step (None when none was)."""

    fired: list[Fired] = field(default_factory=list)
    steps: int = 0
    stale: int = 0
    empty: int = 0
    sweeps: int = 0
    lo: int = 0
    hi: int = -1
    first: int | None = None
    last: int | None = None


def _ceil(x: int, step: int) -> int:
    return -(-x // step) * step


def default_step_ms(window: str, series: Sequence[MarketSeries]) -> int:
    """The window's candle timeframe (5m for 24h), never finer than the dataset's candles."""
    return max([parse_duration(WINDOWS[window][1]), *(s.timeframe_ms for s in series)])


def replay_alerts(
    series: Sequence[MarketSeries],
    sub: SubscriptionRec,
    *,
    step_ms: int,
    since: int | None = None,
    until: int | None = None,
    params: ModelParams = DEFAULT_PARAMS,
) -> Replay:
    """Run the job's alert evaluation for ``sub`` on ``series`` (one per exchange) every ``step_ms`` from one window
    of history on (and from ``since``) to the last candle close (before ``until``). See the module docstring."""
    span = window_ms(sub.window)
    live_series = [s for s in series if s.n]
    out = Replay()
    if not live_series:
        return out
    first = _ceil(min(int(s.timestamp[0]) for s in live_series) + span, step_ms)
    last = max(s.last_close_time for s in live_series)
    out.lo = max(first, _ceil(since, step_ms)) if since is not None else first
    out.hi = min(last, until - 1) if until is not None else last
    stale_ms = stale_budget_ms(step_ms)
    states: dict[StateKey, ClusterStateRec] = {}
    previous: tuple[Cluster, ...] = ()
    prev_at: int | None = None
    for t in range(out.lo, out.hi + 1, step_ms):
        cut = [s.upto(t) for s in live_series]
        live = [c for c in cut if c.n and is_live(Freshness(c.exchange, True, c.last_close_time, t), c, t, stale_ms)[0]]
        if not live:
            out.stale += 1
            continue
        m = build_map(live, window=sub.window, at_ms=t, params=params, previous=previous)
        if not m.exchanges:  # the job evaluates nothing without market data in the map
            out.empty += 1
            continue
        previous = m.clusters
        recent = prev_at is not None and 0 <= m.at - prev_at <= stale_ms
        low, high = price_path(m, prev_at if recent and prev_at is not None else m.at)
        ev = evaluate_map(m, [sub], states, t, low, high, alert_sweeps=recent)
        prev_at = m.at
        out.steps += 1
        out.first = t if out.first is None else out.first
        out.last = t
        for st in ev.states:
            states[(st.subscription_id, st.cluster_id)] = st
        for a in ev.alerts:
            if a.kind == "approach":
                out.fired.append(Fired(t, a))
            else:
                out.sweeps += 1
    return out


class ZoneRecord:
    """Liquidated USD of one side inside a zone over ``(t, end]``; ``start``/``end`` bound what the record knows."""

    source = ""
    start = 0
    end = 0

    def usd(self, zone: Zone, t: int, end: int) -> float:
        """USD of ``zone.side`` liquidated inside ``zone`` in ``(t, end]``."""
        raise NotImplementedError

    def covers(self, t: int, end: int) -> bool:
        """Whether the record knows ``(t, end]``."""
        return self.start <= t < self.end and end > t


class EventZones(ZoneRecord):
    """``liquidations.csv``: events of the zone's side with prices in ``[low, high]``."""

    source = "events"

    def __init__(self, series: MarketSeries) -> None:
        self._ts, self._side, self._price = series.liq_timestamp, series.liq_side, series.liq_price
        usd = series.liq_price * series.liq_amount
        self._usd = np.where(np.isfinite(usd), usd, 0.0)
        self.start, self.end = int(self._ts[0]), int(self._ts[-1])
        gap = np.flatnonzero(np.diff(self._ts) > FEED_GAP_MS)
        self._gap_start, self._gap_end = self._ts[gap], self._ts[gap + 1]

    def covers(self, t: int, end: int) -> bool:
        """Within the feed's first and last record, overlapping no silence longer than 12 h."""
        return super().covers(t, end) and not bool(np.any((t < self._gap_end) & (end > self._gap_start)))

    def usd(self, zone: Zone, t: int, end: int) -> float:
        a, b = np.searchsorted(self._ts, [t, end], side="right")
        sign = 1 if zone.side == "long" else -1
        p = self._price[a:b]
        inside = (self._side[a:b] == sign) & (p >= zone.low) & (p <= zone.high)
        return float(self._usd[a:b][inside].sum())


class BarZones(ZoneRecord):
    """``liquidation_bars.csv``: the side's USD of the bars whose candles' [low, high] overlapped the zone."""

    source = "bars"

    def __init__(self, bars: LiquidationBars, series: MarketSeries) -> None:
        self._open, self._bar = bars.timestamp, bars.bar_ms
        self._long = np.nan_to_num(bars.long_usd, nan=0.0)
        self._short = np.nan_to_num(bars.short_usd, nan=0.0)
        self._low = np.full(bars.timestamp.size, np.nan)
        self._high = np.full(bars.timestamp.size, np.nan)
        a = np.searchsorted(series.timestamp, bars.timestamp, side="left")
        b = np.searchsorted(series.timestamp, bars.timestamp + bars.bar_ms, side="left")
        for i, (lo, hi) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            if hi > lo:
                self._low[i], self._high[i] = series.low[lo:hi].min(), series.high[lo:hi].max()
        self.start, self.end = int(bars.timestamp[0]), int(bars.timestamp[-1]) + bars.bar_ms

    def usd(self, zone: Zone, t: int, end: int) -> float:
        a = int(np.searchsorted(self._open, t, side="left"))
        b = int(np.searchsorted(self._open, end - self._bar, side="right"))
        with np.errstate(invalid="ignore"):
            overlap = (self._low[a:b] <= zone.high) & (self._high[a:b] >= zone.low)
        side = self._long if zone.side == "long" else self._short
        return float(side[a:b][overlap].sum())


def zone_record(series: MarketSeries, bars: LiquidationBars | None) -> ZoneRecord | None:
    """The events when the dataset has them (prices), else the per-bar totals, else None."""
    if series.liq_timestamp.size:
        return EventZones(series)
    if bars is not None and bars.timestamp.size:
        return BarZones(bars, series)
    return None


def _outcome(
    zone: Zone, t: int, price: float, candles: Candles, record: ZoneRecord | None, horizon_ms: int
) -> Outcome:
    end = min(t + horizon_ms, record.end) if record is not None else t
    usd = record.usd(zone, t, end) if record is not None and record.covers(t, end) else None
    return Outcome(candles.minutes_to_reach(zone, t, price, horizon_ms), usd)


def score_replay(
    replay: Replay, reference: MarketSeries, record: ZoneRecord | None, horizon_ms: int, seed: int = 0
) -> list[AlertRecord]:
    """Outcomes of every fired alert, at its zone, the mirrored zone and the shuffled zone (``seed``); price paths
    from ``reference``'s candles."""
    candles = Candles(reference.timestamp, reference.timeframe_ms, reference.low, reference.high)
    zones = [Zone("long" if f.alert.side == "long" else "short", f.alert.low, f.alert.high) for f in replay.fired]
    prices = [f.alert.price for f in replay.fired]
    shuffled = shuffled_zones(zones, prices, seed)
    out: list[AlertRecord] = []
    for f, z, p, zs in zip(replay.fired, zones, prices, shuffled, strict=True):
        a = f.alert
        out.append(
            AlertRecord(
                t=f.t, price=p, cluster_id=a.cluster_id, zone=z, usd=a.usd, distance_pct=abs(a.distance_pct),
                score=a.score, reasons=a.reasons,
                outcome=_outcome(z, f.t, p, candles, record, horizon_ms),
                mirrored=_outcome(z.mirrored(p), f.t, p, candles, record, horizon_ms),
                shuffled=_outcome(zs, f.t, p, candles, record, horizon_ms),
            )
        )
    return out


def _halves_split(replay: Replay, record: ZoneRecord | None, step_ms: int) -> int | None:
    """The step time that halves the steps the liquidation record covers (all steps without a record); None with
    fewer than 2 steps."""
    lo, hi = replay.lo, replay.hi
    if record is not None:
        lo, hi = max(lo, _ceil(record.start, step_ms)), min(hi, record.end - 1)
    count = (hi - lo) // step_ms + 1 if hi >= lo else 0
    return lo + ((count + 1) // 2) * step_ms if count >= 2 else None


def run_alert_backtest(
    series: MarketSeries,
    spec: AlertSpec,
    *,
    bars: LiquidationBars | None = None,
    step: str | None = None,
    horizon: str = "24h",
    since: int | None = None,
    until: int | None = None,
    halves: bool = False,
    seed: int = 0,
    params: ModelParams = DEFAULT_PARAMS,
    dump: str | Path | None = None,
) -> AlertBacktestReport:
    """Replay ``spec`` over the dataset ``series`` (with its ``liquidation_bars.csv`` totals ``bars``) and score the
    alerts (module docstring). ``step`` None: ``default_step_ms``. ``since``/``until`` (ms UTC): steps
    ``since <= t < until`` (the subscription starts fresh at ``since``). ``halves``: also score the alerts before /
    from the middle step of the span the liquidation record covers. Raises ``LiqmapError`` for bad durations, a
    step finer than the candles or a dataset without candles."""
    if series.n == 0:
        raise LiqmapError(f"{series.exchange} {series.symbol}: the dataset has no candles")
    if since is not None and until is not None and since >= until:
        raise LiqmapError(f"--from {iso_utc(since)} is not before --until {iso_utc(until)}")
    step_ms = parse_duration(step) if step is not None else default_step_ms(spec.window, [series])
    horizon_ms = parse_duration(horizon)
    for name, value in (("step", step_ms), ("horizon", horizon_ms)):
        if value <= 0:
            raise LiqmapError(f"--{name} {value}ms: it must be positive")
    if step_ms < series.timeframe_ms:
        raise LiqmapError(f"--step {step}: finer than the dataset's {series.timeframe} candles (no new data between)")
    sub = subscription_for(spec)
    replay = replay_alerts([series], sub, step_ms=step_ms, since=since, until=until, params=params)
    record = zone_record(series, bars)
    records = score_replay(replay, series, record, horizon_ms, seed)
    if dump is not None:
        try:
            Path(dump).write_text("".join(json.dumps(r.to_json()) + "\n" for r in records), encoding="utf-8")
        except OSError as exc:
            raise LiqmapError(f"cannot write --dump file {dump}: {exc.strerror or exc}") from None
    count = (replay.hi - replay.lo) // step_ms + 1 if replay.hi >= replay.lo else 0
    split = _halves_split(replay, record, step_ms) if halves else None
    notes: list[str] = []
    if record is None:
        notes.append("no liquidations in the dataset: only whether price reached the zones is scored")
    elif not any(r.outcome.liquidated_usd is not None for r in records):
        notes.append(
            f"the liquidation record ({iso_utc(record.start)} to {iso_utc(record.end)}) covers none of the alerts"
        )
    if count == 0:
        notes.append(f"no step: the dataset holds less than one {sub.window} window of candles before the end")
    return AlertBacktestReport(
        exchange=series.exchange, symbol=series.symbol, sub=sub, step_ms=step_ms, horizon_ms=horizon_ms,
        steps=replay.steps, stale=replay.stale, empty=replay.empty, sweeps=replay.sweeps, records=tuple(records),
        liquidation_source=record.source if record is not None else None, split=split, since=since, until=until,
        seed=seed, notes=tuple(notes),
    )
