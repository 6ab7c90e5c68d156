"""``liqmap record``: fetch days of live history from one ccxt exchange and write it as a dataset directory
(meta.json, ohlcv.csv with taker_buy_volume when the exchange gives it, open_interest.csv, funding.csv, and
liquidations.csv) that ``replay:DIR`` and ``backtest --data DIR`` read back.

Exchanges publish no history of liquidations, only a live stream, so ``liquidations.csv`` holds what was recorded:
the events a running bot stored from that stream over the window (``db``), plus those heard while ``record`` itself
listens for ``listen_s`` seconds. Over time every user builds a scoring set of their own this way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.clock import wall_ms as wall_clock_ms
from bot.market.ccxt_fetch import RetryPolicy
from bot.market.ccxt_source import CcxtSource, ExchangeFactory
from bot.market.errors import MarketError
from bot.market.liq_stream import ExchangeStream, stream_profile
from bot.market.replay import write_dataset
from bot.market.source import check_exchange_ids
from bot.market.symbols import parse_symbol
from bot.market.types import MarketSeries, timeframe_ms
from bot.storage.db import Database
from bot.storage.liquidations import LiqRow, load_rows

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
MAX_DAYS = 400.0


async def record(
    exchange: str,
    symbol: str,
    timeframe: str,
    days: float,
    out_dir: str | Path,
    *,
    exchange_factory: ExchangeFactory | None = None,
    now_ms: int | None = None,
    retry: RetryPolicy | None = None,
    db: Database | None = None,
    listen_s: float = 0.0,
    ws_options: Mapping[str, Any] | None = None,
) -> Path:
    """Record the last ``days`` of closed ``timeframe`` candles (plus OI and funding where the exchange has
    them) of ``symbol`` on ``exchange`` into ``out_dir``; returns the directory.

    ``exchange_factory`` and ``retry`` are passed to ``CcxtSource`` (tests point it at a local stand-in);
    ``now_ms`` fixes the end of the window (default: the wall clock). ``db`` is the bot's database, whose recorded
    liquidations of the window go to ``liquidations.csv`` with those heard while listening ``listen_s`` seconds to
    the exchange's stream (ccxt options ``ws_options``, e.g. ``LIQMAP_EXCHANGE_OPTIONS`` of that exchange).
    Raises ``MarketError`` with one line when the exchange is unknown, unreachable, or has no data for the symbol.
    """
    (ex_id,) = check_exchange_ids([exchange])
    unified = parse_symbol(symbol)
    tf = timeframe_ms(timeframe)
    if not 0 < days <= MAX_DAYS:
        raise MarketError(f"--days must be in (0, {MAX_DAYS:g}], got {days:g}")
    end = wall_clock_ms() if now_ms is None else now_ms
    end = (end // tf) * tf
    since = end - int(days * DAY_MS)
    source = CcxtSource([ex_id], exchange_factory=exchange_factory, clock=lambda: end, retry=retry)
    heard: list[LiqRow] = []
    try:
        result, _ = await asyncio.gather(source.load(unified, timeframe, since, end),
                                         listen(ex_id, unified, listen_s, heard.extend, ws_options))
    finally:
        await source.close()
    fresh = result.freshness[0]
    if not fresh.ok or not result.series:
        why = fresh.error or "the exchange returned no candles"
        raise MarketError(f"cannot record {unified} {timeframe} from {ex_id}: {why}")
    liq = recorded_liquidations(db, ex_id, unified, since, heard)
    series = with_liquidations(result.series[0], liq)
    if fresh.error:
        log.warning("%s: %s", ex_id, fresh.error)
    out = Path(out_dir)
    note = f"liqmap record --exchange {ex_id} --symbol {unified} --timeframe {timeframe} --days {days:g}"
    if liq:
        lower = " (lower bounds: the feed is throttled)" if any(r.lower_bound for r in liq) else ""
        note += f"; liquidations.csv: {len(liq)} events recorded from the {ex_id} liquidation stream{lower}"
    try:
        write_dataset(series, out, note)
    except OSError as exc:
        raise MarketError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from None
    log.info("recorded %d %s candles of %s from %s into %s", series.n, timeframe, unified, ex_id, out)
    return out


async def listen(exchange: str, symbol: str, seconds: float, put: Any, options: Mapping[str, Any] | None) -> None:
    """Listen to ``exchange``'s liquidation stream for ``symbol`` during ``seconds`` (0: not at all), handing each
    batch of rows to ``put``; an exchange without a stream profile is skipped with a warning."""
    if seconds <= 0:
        return
    profile = stream_profile(exchange)
    if profile is None:
        log.warning("%s: no liquidation stream known; liquidations.csv gets only what the bot recorded", exchange)
        return
    stream = ExchangeStream(exchange, profile, (symbol,), put, options or {})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stream.run(), seconds)


def recorded_liquidations(db: Database | None, exchange: str, symbol: str, since_ms: int,
                          heard: list[LiqRow]) -> list[LiqRow]:
    """The bot's stored events of (exchange, symbol) after ``since_ms`` plus ``heard`` ones, repeats dropped, time
    ascending. A database without the table (never migrated) counts as none."""
    rows: list[LiqRow] = []
    if db is not None:
        try:
            rows = load_rows(db, exchange, symbol, since_ms, 2**62)
        except Exception as exc:  # no database yet: record what was heard
            log.warning("recorded liquidations unavailable (%s)", str(exc).splitlines()[0][:200])
    unique = {(r.ts, r.side, r.price, r.amount): r for r in [*rows, *heard] if r.ts > since_ms}
    return sorted(unique.values(), key=lambda r: (r.ts, r.side, r.price))


def with_liquidations(series: MarketSeries, rows: list[LiqRow]) -> MarketSeries:
    """``series`` carrying ``rows`` as its ``liq_*`` arrays, (m,) each: ms UTC, +1 long / -1 short, USD, base coin."""
    if not rows:
        return series
    return replace(
        series,
        liq_timestamp=np.array([r.ts for r in rows], dtype=np.int64),
        liq_side=np.array([1 if r.side == "long" else -1 for r in rows], dtype=np.int8),
        liq_price=np.array([r.price for r in rows], dtype=np.float64),
        liq_amount=np.array([r.amount for r in rows], dtype=np.float64),
    )
