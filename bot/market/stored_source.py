"""A market source that keeps what it fetched in the database, so that a restart resumes from the last stored
candle instead of refetching a week of history.

It wraps any live source: on each load it reads the stored rows of every exchange, asks the inner source only
for the tail after the oldest "newest stored candle" among the exchanges, merges, and stores the new rows. An
exchange whose refresh failed gets no series at all: its stored candles never stand in for live data (the freshness
rule in ``bot.market.freshness`` then names it as missing), and it rejoins with its stored history once it answers.
Synthetic and replayed sources are passed through untouched: made-up or replayed candles must never sit beside
live ones in the store.
"""

from __future__ import annotations

import asyncio
import logging

from bot.market.result import MarketSource, SourceResult
from bot.market.series_ops import cut, merge
from bot.market.source import is_listed
from bot.market.types import MarketSeries, timeframe_ms
from bot.storage import market_cache
from bot.storage.db import Database

log = logging.getLogger(__name__)

FAR_FUTURE_MS = 2**62


class StoredSource:
    """``MarketSource`` over ``inner`` that persists candles, open interest and funding in ``db``."""

    def __init__(self, inner: MarketSource, db: Database) -> None:
        self.inner = inner
        self.db = db
        self.synthetic = inner.synthetic
        self.replay_live = bool(getattr(inner, "replay_live", False))
        self.exchanges = tuple(inner.exchanges)
        self.end_ms = inner.end_ms
        self._loaded_from: dict[tuple[str, str], int] = {}  # (symbol, timeframe) -> earliest full load this run

    def _head_known(self, symbol: str, timeframe: str, since_ms: int, stored: dict[str, MarketSeries]) -> bool:
        """Whether the stored rows hold all the history from ``since_ms`` there is: each exchange's rows start
        within a candle of it, or this process already asked every exchange for everything from ``since_ms`` (an
        exchange or listing younger than that). Else the load refetches from ``since_ms``: a longer window (the 24h
        map after the 12h one on the same 5m candles) or an older database must not read a shorter history than
        the model needs, and the map must not depend on which command came first."""
        tf = timeframe_ms(timeframe)
        if all(s.n and int(s.timestamp[0]) <= since_ms + tf for s in stored.values()):
            return True
        return self._loaded_from.get((symbol, timeframe), FAR_FUTURE_MS) <= since_ms

    def _read(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None) -> dict[str, MarketSeries]:
        with self.db.session() as s:
            found = {
                ex: market_cache.load_series(s, ex, symbol, timeframe, since_ms, until_ms or FAR_FUTURE_MS)
                for ex in self.exchanges
            }
        return {ex: series for ex, series in found.items() if series is not None}

    def _write(self, fetched: list[MarketSeries]) -> None:
        with self.db.session() as s:
            for series in fetched:
                market_cache.save_series(s, series)

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        """Stored rows plus the inner source's tail; candles that closed by ``until_ms`` (None = now)."""
        if self.synthetic or self.replay_live:  # never stored beside live data
            return await self.inner.load(symbol, timeframe, since_ms, until_ms)
        tf = timeframe_ms(timeframe)
        stored = await asyncio.to_thread(self._read, symbol, timeframe, since_ms, until_ms)
        resume = since_ms
        if len(stored) == len(self.exchanges) and self._head_known(symbol, timeframe, since_ms, stored):
            resume = max(since_ms, min(s.last_close_time for s in stored.values() if s.n) - tf)
        result = await self.inner.load(symbol, timeframe, resume, until_ms)
        if resume == since_ms and all(f.ok for f in result.freshness):
            key = (symbol, timeframe)
            self._loaded_from[key] = min(self._loaded_from.get(key, since_ms), since_ms)
        fresh = [s for s in result.series if s.n]
        if fresh:
            await asyncio.to_thread(self._write, fresh)
        merged: list[MarketSeries] = []
        by_exchange = {s.exchange: s for s in result.series}
        refreshed = {f.exchange for f in result.freshness if f.ok}
        for ex in self.exchanges:
            new, old = by_exchange.get(ex), stored.get(ex)
            if ex not in refreshed:  # failed now: stored candles never stand in for live data
                continue
            if new is not None and old is not None:
                merged.append(cut(merge(old, new), since_ms, until_ms))
            elif new is not None:
                merged.append(new)
            elif old is not None:  # refreshed, nothing new since the stored tail
                merged.append(cut(old, since_ms, until_ms))
        return SourceResult(series=merged, freshness=result.freshness)

    async def supports(self, symbol: str) -> bool:
        """Whatever the inner source says (its market lists)."""
        return await is_listed(self.inner, symbol)

    async def close(self) -> None:
        """Close the inner source."""
        await self.inner.close()
