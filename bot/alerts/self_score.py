"""The daily self-score: the bot's own maps of the last 7 days, recomputed hour by hour, scored against the
liquidations it recorded from the exchanges' streams with the traded-range score (``bot.model.range_score``, as
``liqmap backtest`` does on datasets). One replica does it per day (the "self-score" lease); the newest figure is
what ``/status`` and ``/metrics`` show.

A step at hour ``t`` is scored on the bar ``(t, t + 1 h]`` only when its candles exist and the recorded feed knows
the bar (``bot.backtest_range.EventRecord``: within the first to last event, no silence over 12 h); ``hours`` is how
many such bars there were.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from bot.backtest_range import Candles, EventRecord, range_step
from bot.clock import Clock
from bot.engine import MapEngine
from bot.model.range_score import RangeStep, score_range
from bot.ops.metrics import Metrics
from bot.storage import leases
from bot.storage.db import Database
from bot.storage.liquidations import SelfScoreRec, latest_self_score, load_prints, save_self_score

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DAYS = 7
LEASE = "self-score"
LEASE_MS = 30 * 60_000
CANDLES = "1h"  # one candle per scored bar; its low/high is the bar's traded range


def _figure(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


async def compute_self_score(engine: MapEngine, db: Database, symbol: str, window: str, now_ms: int,
                             days: int = DAYS) -> SelfScoreRec:
    """Score ``window`` maps of ``symbol`` made at each whole hour of the last ``days`` days against the recorded
    liquidations (all exchanges together, as the map aggregates them); USD and UTC ms throughout."""
    since = (now_ms - days * DAY_MS) // HOUR_MS * HOUR_MS
    prints = await asyncio.to_thread(load_prints, db, symbol, since, now_ms)
    steps: list[RangeStep] = []
    candles = []
    if prints.n:  # nothing recorded: no candles asked for either
        result = await engine.source.load(symbol, CANDLES, since - DAY_MS, now_ms)
        candles = [s for s in result.series if s.n]
    if candles:
        ref = max(candles, key=lambda s: float(np.nansum(s.volume * s.close)))  # the most traded exchange
        carrying = replace(ref, liq_timestamp=prints.time_ms, liq_side=np.where(prints.is_long, 1, -1).astype(np.int8),
                           liq_price=prints.price, liq_amount=prints.usd / prints.price)
        record, bars = EventRecord(carrying, HOUR_MS), Candles(ref, HOUR_MS)
        for t in range(since, now_ms - HOUR_MS + 1, HOUR_MS):
            realized, bar = record.realized(t), bars.bar_range(t)
            if realized is None or bar is None:
                continue
            m = (await engine.compute(symbol, window, at_ms=t)).map
            if m.exchanges:
                steps.append(range_step(m, bar, realized, HOUR_MS, bars.trailing_notional(t)))
    score = score_range(steps)
    return SelfScoreRec(now_ms, symbol, window, float(len(steps)), score.n, _figure(score.spearman_map),
                        _figure(score.spearman_reach), _figure(score.partial))


@dataclass
class SelfScorer:
    """Runs the self-score once a day on one replica and keeps ``metrics`` showing the newest figure."""

    engine: MapEngine
    db: Database
    clock: Clock
    symbol: str
    window: str
    holder: str
    metrics: Metrics | None = None
    check_s: float = 3600.0  # how often it looks whether a day has passed (real seconds)

    def _show(self, rec: SelfScoreRec | None) -> None:
        if rec is not None and self.metrics is not None:
            self.metrics.record_self_score(rec.range_partial, rec.hours)

    async def run_once(self) -> SelfScoreRec | None:
        """Compute and store a self-score when the newest is a day old (or there is none) and this replica takes
        the lease; returns the newest self-score either way (None when there is none yet)."""
        now = self.clock()
        latest = await asyncio.to_thread(latest_self_score, self.db, self.symbol)
        if latest is not None and now - latest.at < DAY_MS:
            self._show(latest)
            return latest
        if not await asyncio.to_thread(leases.try_acquire, self.db, LEASE, self.holder, LEASE_MS, now):
            return latest
        try:
            rec = await compute_self_score(self.engine, self.db, self.symbol, self.window, now)
            await asyncio.to_thread(save_self_score, self.db, rec)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(leases.release, self.db, LEASE, self.holder)
        log.info("self-score %s %s over %g h of recorded liquidations: range partial %s (n=%d)", rec.symbol,
                 rec.window, rec.hours, "n/a" if rec.range_partial is None else f"{rec.range_partial:+.2f}", rec.n)
        self._show(rec)
        return rec

    async def run(self, stop: asyncio.Event) -> None:
        """``run_once`` at start and then every ``check_s`` seconds until ``stop``; failures are logged."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("self-score failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_s)


def self_score_line(rec: SelfScoreRec | None) -> str:
    """The ``/status`` line of the newest self-score, e.g. "Self-score (7d, 43 h of recorded liquidations): range
    partial +0.41, map ρ +0.52 vs reach ρ +0.30 (n=86)", or "not yet"."""
    if rec is None or rec.hours <= 0:
        return "Self-score (7d of maps vs recorded liquidations): not yet"

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2f}"

    return (f"Self-score ({DAYS}d, {rec.hours:g} h of recorded liquidations): range partial {f(rec.range_partial)}, "
            f"map ρ {f(rec.range_spearman_map)} vs reach ρ {f(rec.range_spearman_reach)} (n={rec.n})")
