"""``liqmap record``: fetch days of live history from one ccxt exchange and write it as a dataset directory
(meta.json, ohlcv.csv with taker_buy_volume when the exchange gives it, open_interest.csv, funding.csv)
that ``replay:DIR`` and ``backtest --data DIR`` read back."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.clock import wall_ms as wall_clock_ms
from bot.market.ccxt_fetch import RetryPolicy
from bot.market.ccxt_source import CcxtSource, ExchangeFactory
from bot.market.errors import MarketError
from bot.market.replay import write_dataset
from bot.market.source import check_exchange_ids
from bot.market.symbols import parse_symbol
from bot.market.types import timeframe_ms

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
) -> Path:
    """Record the last ``days`` of closed ``timeframe`` candles (plus OI and funding where the exchange has
    them) of ``symbol`` on ``exchange`` into ``out_dir``; returns the directory.

    ``exchange_factory`` and ``retry`` are passed to ``CcxtSource`` (tests point it at a local stand-in);
    ``now_ms`` fixes the end of the window (default: the wall clock). Raises ``MarketError`` with one line
    when the exchange is unknown, unreachable, or has no data for the symbol.
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
    try:
        result = await source.load(unified, timeframe, since, end)
    finally:
        await source.close()
    fresh = result.freshness[0]
    if not fresh.ok or not result.series:
        why = fresh.error or "the exchange returned no candles"
        raise MarketError(f"cannot record {unified} {timeframe} from {ex_id}: {why}")
    series = result.series[0]
    if fresh.error:
        log.warning("%s: %s", ex_id, fresh.error)
    out = Path(out_dir)
    note = f"liqmap record --exchange {ex_id} --symbol {unified} --timeframe {timeframe} --days {days:g}"
    try:
        write_dataset(series, out, note)
    except OSError as exc:
        raise MarketError(f"cannot write the dataset to {out}: {exc.strerror or exc}") from None
    log.info("recorded %d %s candles of %s from %s into %s", series.n, timeframe, unified, ex_id, out)
    return out
