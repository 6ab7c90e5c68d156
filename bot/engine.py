"""The map engine: asks a market source for data and turns it into a ``LiqMap``, once per (symbol, window).

This is the single place where I/O (the source) meets the pure model. It keeps the previous clusters of each
(symbol, window) so that cluster ids stay stable across recomputations.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

from bot.market.source import MarketSource, SourceResult
from bot.market.types import Freshness
from bot.model.build import build_map
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.types import WINDOWS, Cluster, LiqMap, window_ms


def now_ms() -> int:
    """Current UTC time in ms."""
    return int(time.time() * 1000)


@dataclass
class MapResult:
    """A computed map plus the per-exchange freshness that went into it."""

    map: LiqMap
    freshness: list[Freshness]


@dataclass
class MapEngine:
    """Computes maps from one market source; remembers clusters for stable ids; one computation per key at a time."""

    source: MarketSource
    params: ModelParams = DEFAULT_PARAMS
    warmup_windows: float = 0.25
    _previous: dict[tuple[str, str], tuple[Cluster, ...]] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    async def compute(self, symbol: str, window: str, at_ms: int | None = None) -> MapResult:
        """Load data for ``symbol`` over ``window`` ending at ``at_ms`` and build the map.

        ``at_ms`` defaults to the source's end (a replayed dataset's last close) or else the current time.

        Raises ``ValueError`` (with a clear message) for an unknown window.
        """
        span = window_ms(window)
        timeframe = WINDOWS[window][1]
        key = (symbol, window)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if at_ms is None:
                at_ms = self.source.end_ms  # replay: "now" is the end of the recorded data
            end = at_ms if at_ms is not None else now_ms()
            since = end - int(span * (1 + self.warmup_windows))
            result: SourceResult = await self.source.load(symbol, timeframe, since, at_ms)
            m = await asyncio.to_thread(
                build_map,
                result.series,
                window=window,
                at_ms=at_ms,
                params=self.params,
                previous=self._previous.get(key, ()),
            )
            missing = tuple(f.exchange for f in result.freshness if not f.ok)
            if missing and not m.missing_exchanges:
                m = replace(m, missing_exchanges=missing)
            self._previous[key] = m.clusters
            return MapResult(map=m, freshness=result.freshness)
