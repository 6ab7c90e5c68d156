"""Paginated history fetches over one ccxt async exchange: candles (with taker-buy volume from raw klines where
the exchange's profile names them), open interest in USD, funding rates and leverage tiers. Every request goes
through ``with_retries``; what differs per exchange comes from ``bot.market.exchanges.profile_for``.

Arrays returned: candles as (n,) columns, OI (m,), funding (k,); times ms UTC, prices USD, volumes BTC.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from bot.market.exchanges import profile_for
from bot.market.retry import with_retries
from bot.market.types import F64, I64, TIMEFRAME_MS, LeverageTier

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PAGES = 400


@dataclass(frozen=True)
class RetryPolicy:
    """The settings every request passes to ``retry.with_retries`` (the one retry helper): transient ccxt
    errors only, exponential backoff with jitter. ``sleep`` is injectable so tests do not wait."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run(self, fn: Callable[[], Awaitable[T]], what: str) -> T:
        """``with_retries(fn)`` with this policy."""
        return await with_retries(fn, attempts=self.attempts, base_delay=self.base_delay,
                                  max_delay=self.max_delay, what=what, sleep=self.sleep)


async def paginate(
    fetch_page: Callable[[int], Awaitable[list[T]]],
    ts_of: Callable[[T], int],
    since_ms: int,
    until_ms: int,
    step_ms: int,
    page_span_ms: int,
) -> list[T]:
    """Walk forward from ``since_ms`` to ``until_ms`` (exclusive): fetch a page at the cursor, keep rows in
    range, move the cursor past the newest row (or by ``page_span_ms`` over an empty page). Rows are
    returned ascending and unique by timestamp. Stops after ``MAX_PAGES`` pages."""
    rows: dict[int, T] = {}
    cursor = since_ms
    for _ in range(MAX_PAGES):
        if cursor >= until_ms:
            break
        page = await fetch_page(cursor)
        stamps = [ts_of(r) for r in page]
        fresh = [(t, r) for t, r in zip(stamps, page, strict=True) if cursor <= t < until_ms]
        if not fresh:
            if stamps and max(stamps) >= until_ms:
                break
            cursor += page_span_ms  # a gap in the exchange's history, or nothing yet
            continue
        rows.update(fresh)
        cursor = max(t for t, _ in fresh) + step_ms
    else:
        log.warning("pagination stopped after %d pages at %d (until %d)", MAX_PAGES, cursor, until_ms)
    return [rows[t] for t in sorted(rows)]


def _f(value: Any) -> float:
    """ccxt/raw number → float; None or unparsable → NaN."""
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class Candles:
    """Closed candles: timestamp (n,) ms open time; open/high/low/close (n,) USD; volume and
    taker_buy_volume (n,) BTC (NaN when the exchange does not say)."""

    timestamp: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    taker_buy_volume: F64


def candles_from_rows(rows: Sequence[Sequence[Any]], taker_index: int | None) -> Candles:
    """Rows ``[ts, o, h, l, c, volume, ...]`` → ``Candles``; ``taker_index`` names the taker-buy base volume
    column of raw klines (the profile's ``taker_buy_column``: 9 on Binance). Volumes are in base currency (BTC)."""
    def col(i: int) -> F64:
        return np.array([_f(r[i]) for r in rows], dtype=np.float64)

    tb = col(taker_index) if taker_index is not None else np.full(len(rows), np.nan)
    return Candles(
        timestamp=np.array([int(r[0]) for r in rows], dtype=np.int64),
        open=col(1), high=col(2), low=col(3), close=col(4),
        volume=col(5), taker_buy_volume=tb,
    )


async def fetch_candles(
    ex: Any, market: Mapping[str, Any], timeframe: str, since_ms: int, until_ms: int, retry: RetryPolicy
) -> Candles:
    """Closed candles with open time in ``[since_ms, until_ms - tf]`` (the still-open one is dropped).

    Where the profile names a raw klines method (Binance USD-M) it is used, because its taker-buy base volume
    column is dropped by ``fetch_ohlcv``; elsewhere ``fetch_ohlcv`` (volume as ccxt reports it, in base currency).
    """
    profile = profile_for(ex.id)
    tf = TIMEFRAME_MS[timeframe]
    last_open = until_ms - tf  # a candle is closed once open + tf <= until
    limit = profile.candle_limit
    raw_klines = profile.raw_klines if profile.raw_klines and hasattr(ex, profile.raw_klines) else None

    async def page(cursor: int) -> list[list[Any]]:
        # Bounding every page on both sides matters: Bybit and OKX answer with the *newest* ``limit`` rows
        # of the range, so an open-ended request would skip everything between ``cursor`` and those rows.
        page_until = min(cursor + (limit - 1) * tf, last_open) + 1
        if raw_klines is not None:
            req = {"symbol": market["id"], "interval": ex.timeframes.get(timeframe, timeframe),
                   "startTime": cursor, "endTime": last_open, "limit": limit}
            return list(await retry.run(lambda: getattr(ex, raw_klines)(req), f"{ex.id} klines"))
        return list(await retry.run(
            lambda: ex.fetch_ohlcv(market["symbol"], timeframe, since=cursor, limit=limit,
                                   params={"until": page_until}),
            f"{ex.id} fetch_ohlcv"))

    rows = await paginate(page, lambda r: int(r[0]), since_ms, last_open + 1, tf, tf * limit)
    return candles_from_rows(rows, profile.taker_buy_column if raw_klines is not None else None)


def oi_usd(entry: Mapping[str, Any], market: Mapping[str, Any], price_at: Callable[[int], float]) -> float:
    """USD open interest of one ccxt OI structure: ``openInterestValue`` when given, else
    ``openInterestAmount`` (contracts) × contract size × price (linear) or × contract size (inverse, USD)."""
    value = _f(entry.get("openInterestValue"))
    if not math.isnan(value):
        return value
    amount = _f(entry.get("openInterestAmount"))
    size = _f(market.get("contractSize")) if market.get("contractSize") else 1.0
    if market.get("inverse"):
        return amount * size
    return amount * size * price_at(int(entry["timestamp"]))


async def fetch_open_interest(
    ex: Any, market: Mapping[str, Any], timeframe: str, since_ms: int, until_ms: int,
    retry: RetryPolicy, price_at: Callable[[int], float],
) -> tuple[I64, F64]:
    """Open-interest history in ``[since_ms, until_ms)``: (m,) ms and (m,) USD."""
    profile = profile_for(ex.id)
    period = profile.oi_period(timeframe)
    step = TIMEFRAME_MS[period]
    limit = profile.oi_limit

    async def page(cursor: int) -> list[dict[str, Any]]:
        page_until = min(cursor + (limit - 1) * step, until_ms - 1) + 1  # bounded: see fetch_candles
        return list(await retry.run(
            lambda: ex.fetch_open_interest_history(market["symbol"], period, since=cursor, limit=limit,
                                                   params={"until": page_until}),
            f"{ex.id} open interest"))

    rows = await paginate(page, lambda r: int(r["timestamp"]), since_ms, until_ms, step, step * limit)
    ts = np.array([int(r["timestamp"]) for r in rows], dtype=np.int64)
    usd = np.array([oi_usd(r, market, price_at) for r in rows], dtype=np.float64)
    return ts, usd


async def fetch_funding(
    ex: Any, market: Mapping[str, Any], since_ms: int, until_ms: int, retry: RetryPolicy
) -> tuple[I64, F64]:
    """Funding-rate history in ``[since_ms, until_ms)``: (k,) ms and (k,) fraction per settlement."""
    profile = profile_for(ex.id)
    limit = profile.funding_limit
    every = profile.funding_every_ms
    span = every * limit

    async def page(cursor: int) -> list[dict[str, Any]]:
        # Bounded pages (see fetch_candles); the bound is ccxt's ``until`` or the exchange's own (OKX ``after``).
        end = min(cursor + span - every, until_ms - 1) + 1
        params = {profile.funding_end_param: end}
        return list(await retry.run(
            lambda: ex.fetch_funding_rate_history(market["symbol"], since=cursor, limit=limit, params=params),
            f"{ex.id} funding"))

    rows = await paginate(page, lambda r: int(r["timestamp"]), since_ms, until_ms, 1, span)
    return funding_arrays(rows)


def funding_arrays(rows: Sequence[Mapping[str, Any]]) -> tuple[I64, F64]:
    """ccxt funding-rate structures → (k,) ms and (k,) fraction (NaN where the rate is missing)."""
    return (np.array([int(r["timestamp"]) for r in rows], dtype=np.int64),
            np.array([_f(r.get("fundingRate")) for r in rows], dtype=np.float64))


async def fetch_tiers(
    ex: Any, market: Mapping[str, Any], retry: RetryPolicy, price: float
) -> tuple[LeverageTier, ...]:
    """The exchange's live maintenance-margin tiers for ``market`` in USD notional (raises on failure).

    Where the profile says tiers are stated in contracts (OKX swaps) they are converted with contract size ×
    ``price`` (USD, the latest close); other exchanges already state notional in the quote currency.
    """
    from bot.market.tiers import tiers_from_ccxt

    raw = await retry.run(lambda: ex.fetch_market_leverage_tiers(market["symbol"]), f"{ex.id} tiers")
    scale = 1.0
    if profile_for(ex.id).tiers_in_contracts and market.get("contract"):
        scale = _f(market.get("contractSize") or 1.0) * price
    return tiers_from_ccxt(raw, scale=scale)
