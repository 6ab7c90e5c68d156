"""Build a map's ``MapContext`` from the series that went into it, the real liquidations recorded over its window
and the live extras some exchanges publish (long/short ratio, predicted funding). Pure numpy, no lookahead: only
samples stamped at or before the map's instant count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.market.types import MarketSeries
from bot.model.context import ExchangeContext, LiquidationPrints, MapContext

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class LiveExtras:
    """What an exchange publishes about now only: the account long/short ratio (longs over shorts) and the
    predicted next funding rate (fraction per interval). ``None`` where it does not publish it."""

    long_short_ratio: float | None = None
    predicted_funding_rate: float | None = None


def _last_at_or_before(ts: np.ndarray, values: np.ndarray, at_ms: int) -> tuple[int, float] | None:
    """(index, value) of the newest finite sample stamped at or before ``at_ms``; ``ts``/``values`` (m,)."""
    k = int(np.searchsorted(ts, at_ms, side="right"))
    while k > 0:
        k -= 1
        v = float(values[k])
        if np.isfinite(v):
            return k, v
    return None


def _oi(s: MarketSeries, at_ms: int, start_ms: int) -> tuple[float | None, float | None, float | None]:
    """(OI now USD, OI at the window's start USD, change %) of one series; None where unknown."""
    now = _last_at_or_before(s.oi_timestamp, s.oi_usd, at_ms)
    then = _last_at_or_before(s.oi_timestamp, s.oi_usd, start_ms)
    if now is None:
        return None, None, None
    if then is None or then[1] <= 0:
        return now[1], None, None
    return now[1], then[1], (now[1] / then[1] - 1.0) * 100.0


def _funding(s: MarketSeries, at_ms: int) -> tuple[float | None, float | None]:
    """(last settled rate, interval hours from the last two settlements) of one series."""
    last = _last_at_or_before(s.funding_timestamp, s.funding_rate, at_ms)
    if last is None:
        return None, None
    k = last[0]
    interval = float(s.funding_timestamp[k] - s.funding_timestamp[k - 1]) / HOUR_MS if k > 0 else None
    return last[1], interval if interval is not None and 0 < interval <= 24 else None


def _realized(prints: LiquidationPrints | None, exchange: str | None) -> tuple[float | None, float | None]:
    """(long USD, short USD) liquidated, of one exchange (None: every exchange); None when nothing was recorded
    for it (no feed), zero when the feed ran and saw nothing."""
    if prints is None:
        return None, None
    if exchange is None:
        return prints.totals()
    if exchange not in prints.exchanges or (prints.exchange_ix is None and prints.exchanges != (exchange,)):
        return None, None
    mine = prints.of_exchange(exchange)
    return mine.totals()


def _weighted(values: Sequence[float | None], weights: Sequence[float | None]) -> float | None:
    """OI-weighted mean of the known values (plain mean when no weight is known); None when none is known."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None]
    if not pairs:
        return None
    ws = [w for _, w in pairs]
    if all(w is not None and w > 0 for w in ws):
        return float(np.average([v for v, _ in pairs], weights=[float(w or 0) for w in ws]))
    return float(np.mean([v for v, _ in pairs]))


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None


def build_context(
    series: Sequence[MarketSeries], *, window: str, at_ms: int, span_ms: int,
    prints: LiquidationPrints | None = None, extras: Mapping[str, LiveExtras] | None = None,
) -> MapContext:
    """The context of a map of ``window`` (``span_ms`` long) at ``at_ms`` from its live ``series`` (one per
    exchange), the ``prints`` over the window (None: no feed) and each exchange's ``extras`` (live maps only)."""
    start_ms = at_ms - span_ms
    rows: list[ExchangeContext] = []
    then_total: list[float | None] = []
    for s in series:
        oi_now, oi_then, change = _oi(s, at_ms, start_ms)
        rate, interval = _funding(s, at_ms)
        extra = (extras or {}).get(s.exchange, LiveExtras())
        long_usd, short_usd = _realized(prints, s.exchange)
        rows.append(ExchangeContext(
            exchange=s.exchange, oi_usd=oi_now, oi_change_pct=change, funding_rate=rate, funding_interval_h=interval,
            predicted_funding_rate=extra.predicted_funding_rate, long_short_ratio=extra.long_short_ratio,
            realized_long_usd=long_usd, realized_short_usd=short_usd,
        ))
        then_total.append(oi_then if change is not None else None)
    total_long, total_short = _realized(prints, None)
    weights = [r.oi_usd for r in rows]
    with_change = [(r.oi_usd, t) for r, t in zip(rows, then_total, strict=True) if r.oi_usd is not None and t]
    total_change = None
    if with_change:
        now_sum, then_sum = sum(n for n, _ in with_change if n), sum(t for _, t in with_change if t)
        total_change = (now_sum / then_sum - 1.0) * 100.0 if then_sum > 0 else None
    intervals = {r.funding_interval_h for r in rows if r.funding_interval_h is not None}
    total = ExchangeContext(
        exchange="total", oi_usd=_sum(weights), oi_change_pct=total_change,
        funding_rate=_weighted([r.funding_rate for r in rows], weights),
        funding_interval_h=intervals.pop() if len(intervals) == 1 else None,
        predicted_funding_rate=_weighted([r.predicted_funding_rate for r in rows], weights),
        long_short_ratio=_weighted([r.long_short_ratio for r in rows], weights),
        realized_long_usd=total_long, realized_short_usd=total_short,
    )
    return MapContext(
        window=window, exchanges=tuple(rows), total=total,
        realized_lower_bound=bool(prints is not None and (prints.lower_bound or not prints.complete_after(start_ms))),
        realized_source="" if prints is None else prints.source,
    )


def prints_from_series(series: Sequence[MarketSeries], since_ms: int, until_ms: int) -> LiquidationPrints | None:
    """Real liquidations carried by the series themselves (replayed datasets with ``liquidations.csv``) in
    ``(since_ms, until_ms]``; None when no series carries any liquidation history."""
    carrying = [s for s in series if s.liq_timestamp.size]
    if not carrying:
        return None
    parts = []
    for i, s in enumerate(carrying):
        keep = (s.liq_timestamp > since_ms) & (s.liq_timestamp <= until_ms)
        parts.append((s.liq_timestamp[keep], s.liq_price[keep], s.liq_amount[keep] * s.liq_price[keep],
                      s.liq_side[keep] > 0, np.full(int(keep.sum()), i, dtype=np.int64)))
    t, p, usd, is_long, ix = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.argsort(t, kind="stable")
    return LiquidationPrints(t[order].astype(np.int64), p[order].astype(np.float64), usd[order].astype(np.float64),
                             is_long[order].astype(bool), tuple(s.exchange for s in carrying), False,
                             "simulated" if any(s.synthetic for s in carrying) else "dataset",
                             ix[order])
