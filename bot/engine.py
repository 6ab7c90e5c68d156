"""The map engine: asks a market source for data and turns it into a ``LiqMap``, once per (symbol, window).

This is the single place where I/O (the source) meets the pure model. It applies the one freshness rule
(``bot.market.freshness``): only live exchanges go into a map, the others are named as missing. It keeps the
previous clusters of each (symbol, window) so that cluster ids stay stable across recomputations, and, when given a
``previous_store`` (the database's latest snapshot), across restarts and replicas too. Every cache is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from cachetools import LRUCache

from bot.caching import BoundedTtlCache, KeyedLocks
from bot.clock import Clock, VirtualClock, wall_ms
from bot.market.freshness import DEFAULT_TICK_MS, split_live, stale_budget_ms
from bot.market.source import MarketSource, SourceResult
from bot.market.types import Freshness, MarketSeries
from bot.model.build import build_map, history_ms
from bot.model.context import LiquidationPrints
from bot.model.market_context import LiveExtras, build_context, prints_from_series
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import WINDOWS, Cluster, LiqMap, window_ms

MAX_KEYS = 256  # (symbol, window) pairs whose last clusters are remembered (for stable ids)
MAP_CACHE_ENTRIES = 24  # current maps kept for reuse (~5 MB each)
PreviousClusters = tuple[int, tuple[Cluster, ...]]  # (as-of UTC ms, clusters)
PreviousStore = Callable[[str, str], Awaitable[PreviousClusters | None]]
PrintsStore = Callable[[str, int, int], Awaitable[LiquidationPrints | None]]  # (symbol, since ms, until ms]
LiveExtrasFeed = Callable[[str], Awaitable[Mapping[str, LiveExtras]]]  # symbol -> per exchange, about now only


@dataclass
class MapResult:
    """A computed map plus the per-exchange freshness that went into it."""

    map: LiqMap
    freshness: list[Freshness]


def _previous_of(remembered: PreviousClusters | None, stored: PreviousClusters | None) -> tuple[Cluster, ...]:
    """The clusters ids are matched against: the stored map when there is one (the periodic job stores every map
    it evaluates, so ids follow one chain on every replica and across restarts, whatever chat commands computed in
    between), else this process's last map of the key, else none."""
    best = stored if stored is not None else remembered
    return best[1] if best is not None else ()


@dataclass
class MapEngine:
    """Computes maps from one market source, one computation per key at a time, and owns the one cache of current
    maps: the periodic job's map of this tick is what ``/liqmap`` and ``/levels`` show, never computed twice.

    ``clock`` is the bot's one clock (UTC ms); ``tick_ms`` sets the staleness budget of the freshness rule and how
    long a current map is reused; ``previous_store(symbol, window)`` returns the newest stored (at, clusters) so ids
    survive restarts. Every cache is bounded: ``MAP_CACHE_ENTRIES`` maps (~5 MB each), ``MAX_KEYS`` cluster lists,
    and locks only while a computation is in flight.
    """

    source: MarketSource
    params: ModelParams = DEFAULT_PARAMS
    warmup_windows: float = 0.25
    clock: Clock = wall_ms
    tick_ms: int = DEFAULT_TICK_MS
    previous_store: PreviousStore | None = None
    prints_store: PrintsStore | None = None
    live_extras: LiveExtrasFeed | None = None
    _previous: LRUCache[tuple[str, str], PreviousClusters] = field(default_factory=lambda: LRUCache(MAX_KEYS))
    _locks: KeyedLocks[tuple[str, str]] = field(default_factory=KeyedLocks)
    _current: BoundedTtlCache[tuple[str, str], tuple[int, MapResult]] = field(
        default_factory=lambda: BoundedTtlCache(MAP_CACHE_ENTRIES)
    )

    @property
    def stale_ms(self) -> int:
        """How old an exchange's data may be before it is left out of maps, ms."""
        return stale_budget_ms(self.tick_ms)

    async def compute(self, symbol: str, window: str, at_ms: int | None = None) -> MapResult:
        """Load data for ``symbol`` over ``window`` ending at ``at_ms`` and build the map from the live exchanges.

        ``at_ms`` defaults to the source's end (a replayed dataset's last close) or else the clock's now. A map of
        now (what the job computes each tick) becomes the current map of its key for one tick interval.
        Raises ``ValueError`` (with a clear message) for an unknown window.
        """
        async with self._locks.hold((symbol, window)):
            return await self._compute(symbol, window, at_ms, current=at_ms is None)

    async def current(self, symbol: str, window: str, max_age_ms: int | None = None) -> MapResult:
        """The map of now, shared: reused while it is at most ``max_age_ms`` old (default one tick interval), else
        computed once for all concurrent callers."""
        key = (symbol, window)
        max_age = self.tick_ms if max_age_ms is None else max_age_ms
        hit = self._fresh_current(key, max_age)
        if hit is not None:  # never wait for a computation in flight while a recent enough map exists
            return hit
        async with self._locks.hold(key):
            hit = self._fresh_current(key, max_age)  # computed while this caller waited for the lock
            if hit is not None:
                return hit
            now = self.clock()
            return await self._compute(symbol, window, now if self.source.end_ms is None else None, current=True)

    def _fresh_current(self, key: tuple[str, str], max_age_ms: int) -> MapResult | None:
        """The current map of ``key`` when it was computed at most ``max_age_ms`` ago."""
        now = self.clock()
        hit = self._current.get(key, now)
        return hit[1] if hit is not None and now - hit[0] <= max_age_ms else None

    async def _compute(self, symbol: str, window: str, at_ms: int | None, *, current: bool) -> MapResult:
        """``compute`` with the key's lock held; ``current``: a map of "now" (else: of now when ``at_ms`` is within
        a tick of the clock), kept as the key's current map for one tick."""
        key = (symbol, window)
        span = window_ms(window)
        timeframe = WINDOWS[window][1]
        if at_ms is None:
            at_ms = self.source.end_ms  # replay: "now" is the end of the recorded data
        now = self.clock()
        end = at_ms if at_ms is not None else now
        since = end - history_ms(window, self.params, self.warmup_windows)
        result: SourceResult = await self.source.load(symbol, timeframe, since, at_ms)
        split = split_live(result.series, result.freshness, end, self.stale_ms)
        previous = await self._previous_clusters(key)
        m = await asyncio.to_thread(
            build_map, split.live, window=window, at_ms=at_ms, params=self.params, previous=previous
        )
        configured = [f.exchange for f in result.freshness] or list(self.source.exchanges)
        missing = tuple(e for e in configured if e in split.missing)
        replay = isinstance(self.clock, VirtualClock)  # any run on the virtual clock is a replay
        m = replace(m, symbol=m.symbol or symbol, missing_exchanges=missing, replay=replay)
        m = await self._with_context(m, split.live, span, live=current or end >= now - self.tick_ms)
        out = MapResult(map=m, freshness=result.freshness)
        if m.exchanges:
            self._previous[key] = (m.at, m.clusters)
            if current or end >= now - self.tick_ms:  # a map of now: the current one for a tick
                self._current.put(key, (now, out), now + 2 * self.tick_ms, now)  # max_age decides reuse
        return out

    async def _with_context(self, m: LiqMap, series: list[MarketSeries], span: int, *, live: bool) -> LiqMap:
        """``m`` with its real liquidations over the window (``prints_store``, else what replayed series carry)
        and its context; the live extras (long/short ratio, predicted funding) only on a map of now on the wall
        clock, since they describe the present."""
        since = m.at - span
        prints = await self.prints_store(m.symbol, since, m.at) if self.prints_store is not None else None
        if prints is None:
            prints = prints_from_series(series, since, m.at)
        extras: Mapping[str, LiveExtras] = {}
        if live and self.live_extras is not None and not isinstance(self.clock, VirtualClock) and m.symbol:
            extras = await self.live_extras(m.symbol)
        context = build_context(series, window=m.window, at_ms=m.at, span_ms=span, prints=prints, extras=extras)
        return replace(m, prints=prints, context=context)

    async def _previous_clusters(self, key: tuple[str, str]) -> tuple[Cluster, ...]:
        """The clusters of the map ids are matched against (see ``_previous_of``)."""
        stored = await self.previous_store(*key) if self.previous_store is not None else None
        return _previous_of(self._previous.get(key), stored)
