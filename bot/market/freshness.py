"""The one rule for what a failed or stale exchange means.

An exchange takes part in a map only while its data is live: its last refresh succeeded and its newest candle
closed no longer ago than ``STALE_INTERVALS`` tick intervals plus one candle. Otherwise its old candles never stand
in for live data: it is left out of the map and named as missing (map, caption, ``/status``, health). The others
keep the map and the alerts going, and an exchange that recovers rejoins on the next load by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.market.types import Freshness, MarketSeries

STALE_INTERVALS = 3  # tick intervals without fresh data before an exchange (or the whole bot) counts as stale
DEFAULT_TICK_MS = 60_000


def stale_budget_ms(tick_ms: int) -> int:
    """How old data may get, in ms, before it counts as stale: ``STALE_INTERVALS`` tick intervals."""
    return STALE_INTERVALS * max(int(tick_ms), 1000)


@dataclass(frozen=True)
class LiveSplit:
    """The series that may go into a map, and the configured exchanges that may not (with the reason)."""

    live: list[MarketSeries]
    missing: dict[str, str]


def is_live(f: Freshness, series: MarketSeries | None, now_ms: int, stale_ms: int) -> tuple[bool, str]:
    """Whether one exchange's data is live at ``now_ms`` (UTC ms), and why not when it is not."""
    if not f.ok:
        return False, f.error or "refresh failed"
    if series is None or series.n == 0:
        return False, f.error or "no data"
    age = now_ms - series.last_close_time
    if age > stale_ms + series.timeframe_ms:
        return False, f"last candle closed {age // 1000} s ago"
    return True, ""


def split_live(
    series: Sequence[MarketSeries], freshness: Sequence[Freshness], now_ms: int, stale_ms: int
) -> LiveSplit:
    """Apply the rule to one load: ``series`` (one per exchange that answered), ``freshness`` (one per configured
    exchange). An exchange with a series but no freshness entry counts as live if its candles are recent."""
    by_exchange = {s.exchange: s for s in series}
    live: list[MarketSeries] = []
    missing: dict[str, str] = {}
    seen: set[str] = set()
    for f in freshness:
        seen.add(f.exchange)
        ok, why = is_live(f, by_exchange.get(f.exchange), now_ms, stale_ms)
        if ok:
            live.append(by_exchange[f.exchange])
        else:
            missing[f.exchange] = why
    for s in series:
        if s.exchange not in seen:
            ok, why = is_live(Freshness(s.exchange, True, s.last_close_time, now_ms), s, now_ms, stale_ms)
            if ok:
                live.append(s)
            else:
                missing[s.exchange] = why
    return LiveSplit(live=live, missing=missing)
