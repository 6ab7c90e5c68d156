"""The live source: ccxt's async API over several exchanges, fetched concurrently and independently, with
an in-memory cache per (exchange, symbol, timeframe) so that after the first load only the new tail is
requested. One exchange failing (after retries) is reported in its ``Freshness`` and never blocks others."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import ccxt.async_support as ccxt
import numpy as np
from cachetools import LRUCache
from numpy.typing import NDArray

from bot.clock import wall_ms
from bot.market.ccxt_extras import LiveExtrasCache
from bot.market.ccxt_fetch import RetryPolicy, fetch_candles, fetch_funding, fetch_open_interest, fetch_tiers
from bot.market.exchanges import profile_for
from bot.market.result import SourceResult
from bot.market.series_ops import cut, drop_before, merge
from bot.market.symbols import display_symbol
from bot.market.tiers import default_tiers
from bot.market.types import Freshness, LeverageTier, MarketSeries, timeframe_ms
from bot.model.market_context import LiveExtras

log = logging.getLogger(__name__)

ExchangeFactory = Callable[[str, dict[str, Any]], Any]
CACHED_SERIES = 48  # (exchange, symbol, timeframe) histories kept in memory (up to 45 days each)
CACHE_KEEP_MS = 45 * 86_400_000  # cached history older than this and than the request's start is dropped


def default_factory(exchange_id: str, config: dict[str, Any]) -> Any:
    """Construct ``ccxt.async_support.<exchange_id>(config)``."""
    return getattr(ccxt, exchange_id)(config)


def describe_error(exc: BaseException) -> str:
    """One line for a ``Freshness.error``: the ccxt class name and the start of its message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}" if text else type(exc).__name__


def price_at_instant(timestamp: NDArray[np.int64], open_: NDArray[np.float64], close: NDArray[np.float64],
                     tf_ms: int, prior: MarketSeries | None = None) -> Callable[[int], float]:
    """USD price at an instant (ms): the close of the newest candle that had closed by it, among the fetched
    candles (``timestamp``/``open_``/``close``, shape (n,), open times in ms) and the ``prior`` cached ones; the
    open of the first candle before any closed. The same instant gets the same price whatever else a response
    holds, so a coin-denominated sample is valued identically whenever it is fetched (rehearsal defect D3)."""
    if prior is not None and prior.n and timestamp.shape[0]:
        older = prior.timestamp < timestamp[0]
        timestamp = np.concatenate([prior.timestamp[older], timestamp])
        open_ = np.concatenate([prior.open[older], open_])
        close = np.concatenate([prior.close[older], close])
    elif prior is not None and prior.n:
        timestamp, open_, close = prior.timestamp, prior.open, prior.close
    closes_at = timestamp + tf_ms

    def price_at(ts: int) -> float:
        if not timestamp.shape[0]:
            return float("nan")
        i = int(np.searchsorted(closes_at, ts, side="right")) - 1
        return float(close[i]) if i >= 0 else float(open_[0])

    return price_at


MARKETS_REFRESH_MS = 3_600_000  # listings and tiers change: each market list is reloaded hourly (as freqtrade does)


class CcxtSource:
    """Live market data from ccxt exchanges (``enableRateLimit=True``); see the module docstring.

    ``exchange_factory(exchange_id, config)`` builds the ccxt exchange (tests point its URLs at a local
    stand-in); ``clock`` returns "now" in ms; ``retry`` controls retries (tests inject a no-wait sleep).
    """

    synthetic = False
    end_ms: int | None = None  # live data: "now" is the wall clock

    def __init__(
        self,
        exchanges: Sequence[str],
        api_keys: Mapping[str, str] | None = None,
        api_secrets: Mapping[str, str] | None = None,
        exchange_factory: ExchangeFactory | None = None,
        *,
        clock: Callable[[], int] = wall_ms,
        retry: RetryPolicy | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.exchanges = tuple(exchanges)
        self._keys = dict(api_keys or {})
        self._secrets = dict(api_secrets or {})
        self._factory = exchange_factory or default_factory
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._options = {k: dict(v) for k, v in (options or {}).items()}
        self._clients: dict[str, Any] = {}
        self._markets_loaded: dict[str, asyncio.Lock] = {}
        self._markets_at: dict[str, int] = {}  # when each exchange's market list was last (re)loaded, ms
        # Bounded whatever users ask for (symbols are checked against the market lists first, but many are listed):
        # the least recently used history is dropped and simply fetched again when asked for.
        self._cache: LRUCache[tuple[str, str, str], MarketSeries] = LRUCache(CACHED_SERIES)
        self._tiers: LRUCache[tuple[str, str], tuple[LeverageTier, ...]] = LRUCache(CACHED_SERIES)
        self._extras: LiveExtrasCache | None = None

    def _client(self, exchange_id: str) -> Any:
        if exchange_id not in self._clients:
            # The profile's market options: swap market lists only (fewer, smaller market-list requests).
            config: dict[str, Any] = {"enableRateLimit": True, "timeout": 20_000,
                                      "options": profile_for(exchange_id).client_options()}
            if self._keys.get(exchange_id):
                config["apiKey"] = self._keys[exchange_id]
                config["secret"] = self._secrets.get(exchange_id, "")
            config = {**config, **self._options.get(exchange_id, {})}  # ccxt deep-merges these over its defaults
            self._clients[exchange_id] = self._factory(exchange_id, config)
        return self._clients[exchange_id]

    async def _load_markets(self, ex: Any) -> None:
        """ccxt's market list of ``ex`` (ccxt keeps it on the exchange object): loaded with retries when absent,
        then reloaded once per ``MARKETS_REFRESH_MS`` of the source's clock, with the cached tiers of ``ex``. A failed
        reload keeps the list loaded before (an outage must not make listed symbols look unknown)."""
        lock = self._markets_loaded.setdefault(ex.id, asyncio.Lock())
        async with lock:
            now = self._clock()
            if not ex.markets:
                await self._retry.run(lambda: ex.load_markets(), f"{ex.id} load_markets")
                self._markets_at[ex.id] = now
            elif now - self._markets_at.get(ex.id, now) >= MARKETS_REFRESH_MS:
                self._markets_at[ex.id] = now  # one attempt per period, whatever its outcome
                try:
                    await ex.load_markets(True)
                except Exception as exc:
                    log.warning("%s market list refresh failed (%s); keeping the list loaded before",
                                ex.id, describe_error(exc))
                    return
                for key in [k for k in self._tiers if k[0] == ex.id]:
                    self._tiers.pop(key, None)

    async def _listed_on(self, exchange_id: str, symbol: str) -> bool | None:
        """Whether ``exchange_id`` lists ``symbol``; None when its market list cannot be loaded right now."""
        try:
            ex = self._client(exchange_id)
            await self._load_markets(ex)
        except Exception as exc:  # an outage must not make a real symbol look unknown
            log.warning("%s market list unavailable: %s", exchange_id, describe_error(exc))
            return None
        return symbol in ex.markets

    async def client_with_markets(self, exchange_id: str) -> Any:
        """The ccxt exchange object of ``exchange_id`` with its market list loaded (None when it cannot be)."""
        ex = self._client(exchange_id)
        await self._load_markets(ex)
        return ex

    async def live_extras(self, symbol: str) -> Mapping[str, LiveExtras]:
        """Each exchange's long/short ratio and predicted funding for ``symbol`` (cached 5 minutes)."""
        if self._extras is None:
            self._extras = LiveExtrasCache(self.client_with_markets, self.exchanges, self._clock)
        return await self._extras.get(symbol)

    async def supports(self, symbol: str) -> bool:
        """True when any configured exchange lists ``symbol`` (a unified symbol) or cannot say right now; from the
        market lists alone (``load_markets``, once per exchange), before any history is fetched."""
        answers = await asyncio.gather(*(self._listed_on(e, symbol) for e in self.exchanges))
        return any(a is not False for a in answers)

    async def _market(self, ex: Any, symbol: str) -> dict[str, Any]:
        await self._load_markets(ex)
        if symbol not in ex.markets:
            raise ccxt.BadSymbol(f"{display_symbol(symbol)} ({symbol}) is not listed on {ex.id}")
        market: dict[str, Any] = ex.market(symbol)
        return market

    async def leverage_tiers(self, exchange_id: str, symbol: str, price: float) -> tuple[LeverageTier, ...]:
        """The maintenance-margin tiers of ``symbol`` on ``exchange_id`` (live where available, else the default
        table; cached), ``price`` in USD. Raises ccxt's errors when the market list cannot be read."""
        ex = self._client(exchange_id)
        return await self._tiers_for(ex, await self._market(ex, symbol), price)

    async def _tiers_for(self, ex: Any, market: dict[str, Any], price: float) -> tuple[LeverageTier, ...]:
        """Live tiers where the exchange gives them without a key (or a key is set), else the default table;
        ``price`` (USD) converts contract-denominated tiers (OKX). Cached per (exchange, symbol)."""
        key = (ex.id, market["symbol"])
        if key not in self._tiers:
            tiers: tuple[LeverageTier, ...] = ()
            wants_live = profile_for(ex.id).public_tiers or bool(self._keys.get(ex.id))
            if wants_live and ex.has.get("fetchMarketLeverageTiers") and market.get("linear"):
                try:
                    tiers = await fetch_tiers(ex, market, self._retry, price)
                except Exception as exc:  # tiers are optional: fall back to the documented table
                    log.warning("%s tiers unavailable (%s); using the default table", ex.id, describe_error(exc))
            self._tiers[key] = tiers or default_tiers(market["symbol"])
        return self._tiers[key]

    async def _fetch(self, ex: Any, market: dict[str, Any], timeframe: str, since: int, until: int,
                     fetched_at: int, prior: MarketSeries | None = None) -> tuple[MarketSeries, list[str]]:
        """Fetch [since, until) from the exchange; returns the series and notes on missing parts. ``prior`` holds
        the candles already cached, so that open interest given in coins is valued the same whenever fetched."""
        c = await fetch_candles(ex, market, timeframe, since, until, self._retry)
        prices = np.vstack([c.open, c.high, c.low, c.close])
        bad = int(np.count_nonzero(~np.all(np.isfinite(prices) & (prices > 0), axis=0)))
        if bad:  # a malformed answer (fields missing or null): fail this exchange rather than map garbage
            raise ccxt.BadResponse(f"{ex.id} sent {bad} of {c.timestamp.shape[0]} {timeframe} candles without valid "
                                   "prices")
        notes: list[str] = []
        price_at = price_at_instant(c.timestamp, c.open, c.close, timeframe_ms(timeframe), prior)

        async def oi() -> tuple[Any, Any]:
            if not ex.has.get("fetchOpenInterestHistory"):
                raise ccxt.NotSupported(f"{ex.id} has no open-interest history")
            return await fetch_open_interest(ex, market, timeframe, since, until, self._retry, price_at)

        parts = await asyncio.gather(oi(), fetch_funding(ex, market, since, until, self._retry),
                                     return_exceptions=True)
        extra: dict[str, Any] = {}
        for name, got, keys in (("open interest", parts[0], ("oi_timestamp", "oi_usd")),
                                ("funding", parts[1], ("funding_timestamp", "funding_rate"))):
            if isinstance(got, BaseException):
                if not isinstance(got, Exception):
                    raise got
                notes.append(f"{name} unavailable ({describe_error(got)})")
            else:
                extra.update(dict(zip(keys, got, strict=True)))
        series = MarketSeries(
            exchange=ex.id, symbol=market["symbol"], timeframe=timeframe, timestamp=c.timestamp,
            open=c.open, high=c.high, low=c.low, close=c.close, volume=c.volume,
            taker_buy_volume=c.taker_buy_volume, contract="inverse" if market.get("inverse") else "linear",
            fetched_at=fetched_at, **extra,
        )
        return series, notes

    async def _load_one(self, exchange_id: str, symbol: str, timeframe: str, since: int,
                        until: int | None) -> tuple[MarketSeries | None, Freshness]:
        now = self._clock()
        end = now if until is None else min(until, now)
        tf = timeframe_ms(timeframe)
        try:
            ex = self._client(exchange_id)
            market = await self._market(ex, symbol)
            key = (exchange_id, symbol, timeframe)
            cached = self._cache.get(key)
            first_open = -(-since // tf) * tf  # the first candle the request can contain
            if cached is not None and cached.n and cached.timestamp[0] <= first_open:
                # Only the tail, from the newest candle again: every load asks the exchange, so an outage shows
                # at the next tick instead of hiding behind the cache until a new candle is due.
                start = max(int(cached.timestamp[-1]), cached.last_close_time - tf)
                new, notes = await self._fetch(ex, market, timeframe, start, end, now, prior=cached)
                cached = merge(cached, new)
            else:
                cached, notes = await self._fetch(ex, market, timeframe, since, end, now)
            if cached.n == 0:
                raise ccxt.ExchangeError(f"no candles for {symbol} {timeframe} since {since}")
            tiers = await self._tiers_for(ex, market, float(cached.close[-1]))
            cached = replace(drop_before(cached, min(since, end - CACHE_KEEP_MS)), tiers=tiers)
            self._cache[key] = cached
            series = cut(cached, since, until)
            fresh = Freshness(exchange_id, True, series.last_close_time or cached.last_close_time, now,
                              "; ".join(notes))
            return series, fresh
        except Exception as exc:  # one exchange failing must not block the others
            log.warning("%s %s %s failed: %s", exchange_id, symbol, timeframe, describe_error(exc))
            last = self._cache.get((exchange_id, symbol, timeframe))
            return None, Freshness(exchange_id, False, last.last_close_time if last else 0, now,
                                   describe_error(exc))

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        """Fetch every configured exchange concurrently (see ``MarketSource.load``)."""
        timeframe_ms(timeframe)  # one clear line for an unknown one
        results = await asyncio.gather(
            *(self._load_one(e, symbol, timeframe, since_ms, until_ms) for e in self.exchanges)
        )
        return SourceResult(series=[s for s, _ in results if s is not None and s.n],
                            freshness=[f for _, f in results])

    async def close(self) -> None:
        """Close every ccxt session (idempotent)."""
        clients, self._clients = self._clients, {}
        for ex in clients.values():
            try:
                await ex.close()
            except Exception as exc:  # closing must never raise during shutdown
                log.debug("closing %s: %s", getattr(ex, "id", "?"), exc)
