"""Live context extras from ccxt: the accounts' long/short ratio (``fetchLongShortRatioHistory``) and the predicted
next funding rate (``fetchFundingRate``), per exchange, about now only. Both are optional: an exchange that does
not publish one, or fails, gives ``None`` for it and is never retried within the cache's lifetime."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from bot.caching import KeyedLocks
from bot.model.market_context import LiveExtras

log = logging.getLogger(__name__)
RATIO_PERIOD = "5m"  # the finest period every covered exchange accepts
EXTRAS_TTL_MS = 5 * 60_000  # one request per exchange and kind per 5 minutes at most
EXTRAS_TIMEOUT_S = 5.0  # optional figures: a slow exchange leaves them out rather than hold the map up


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, else None (ccxt gives numbers, numeric strings or None)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


async def long_short_ratio(ex: Any, symbol: str, now_ms: int) -> float | None:
    """The newest account long/short ratio of ``symbol`` stamped at or before ``now_ms`` (None when unknown)."""
    if not ex.has.get("fetchLongShortRatioHistory"):
        return None
    rows = await ex.fetch_long_short_ratio_history(symbol, RATIO_PERIOD, None, 3)
    stamped = [r for r in rows if r.get("timestamp") is not None and int(r["timestamp"]) <= now_ms]
    if not stamped:
        return None
    newest = max(stamped, key=lambda r: int(r["timestamp"]))
    return _finite(newest.get("longShortRatio"))


async def predicted_funding(ex: Any, symbol: str) -> float | None:
    """The rate the next settlement will charge, as the exchange predicts it now (None when unknown)."""
    if not ex.has.get("fetchFundingRate"):
        return None
    info = await ex.fetch_funding_rate(symbol)
    return _finite(info.get("fundingRate"))


async def fetch_live_extras(ex: Any, symbol: str, now_ms: int) -> LiveExtras:
    """Both extras of one exchange, fetched concurrently; a failing one is logged at debug level and left out."""
    got = await asyncio.gather(long_short_ratio(ex, symbol, now_ms), predicted_funding(ex, symbol),
                               return_exceptions=True)
    values: list[float | None] = []
    for name, value in zip(("long/short ratio", "predicted funding"), got, strict=True):
        if isinstance(value, BaseException):
            if not isinstance(value, Exception):
                raise value
            log.debug("%s %s %s unavailable: %s", ex.id, symbol, name, value)
            values.append(None)
        else:
            values.append(value)
    return LiveExtras(long_short_ratio=values[0], predicted_funding_rate=values[1])


class LiveExtrasCache:
    """``get(symbol)`` -> each exchange's ``LiveExtras``, refreshed at most every ``EXTRAS_TTL_MS``; ``clients``
    gives the ccxt exchange objects (with markets loaded) of the configured exchanges."""

    def __init__(self, clients: Callable[[str], Any], exchanges: tuple[str, ...], clock: Callable[[], int]) -> None:
        self._clients = clients
        self._exchanges = exchanges
        self._clock = clock
        self._cache: dict[str, tuple[int, dict[str, LiveExtras]]] = {}
        self._locks: KeyedLocks[str] = KeyedLocks()  # per symbol: one refresh at a time, others not held up; a
        # symbol's lock is forgotten once no request holds or waits for it (bounded by the requests in flight)

    async def get(self, symbol: str) -> Mapping[str, LiveExtras]:
        """Per-exchange extras of ``symbol`` (empty values where unknown, or where an exchange took longer than
        ``EXTRAS_TIMEOUT_S``); never raises for exchange trouble."""
        async with self._locks.hold(symbol):
            now = self._clock()
            hit = self._cache.get(symbol)
            if hit is not None and now - hit[0] < EXTRAS_TTL_MS:
                return hit[1]
            got = await asyncio.gather(*(self._one(e, symbol, now) for e in self._exchanges))
            out = dict(zip(self._exchanges, got, strict=True))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[symbol] = (now, out)
            return out

    async def _one(self, exchange_id: str, symbol: str, now: int) -> LiveExtras:
        try:
            ex = await self._clients(exchange_id)
            if ex is None or symbol not in (ex.markets or {}):
                return LiveExtras()
            return await asyncio.wait_for(fetch_live_extras(ex, symbol, now), EXTRAS_TIMEOUT_S)
        except Exception as exc:  # optional figures: never fail a map for them
            log.debug("%s extras unavailable: %s", exchange_id, exc)
            return LiveExtras()
