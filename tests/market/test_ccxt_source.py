"""CcxtSource through ccxt's real request/parse code against the local exchange stand-in."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.market.tiers import default_tiers
from tests.market.conftest import NOW, SYMBOL, source_for
from tests.standins.exchange_server import DAY, HOUR, MIN, ExchangeServer, Tape

TF5 = 5 * MIN


def expected_opens(since: int, until: int, tf: int) -> np.ndarray:
    """Open times of the candles that opened at/after ``since`` and closed by ``until``."""
    first = -(-since // tf) * tf
    return np.arange(first, (until // tf) * tf, tf, dtype=np.int64)


@pytest.mark.parametrize("exchange", ["binanceusdm", "bybit", "okx"])
async def test_load_one_exchange_parses_candles_oi_funding(stand_in: ExchangeServer, exchange: str) -> None:
    source = source_for(stand_in, exchange)
    since = NOW - 1 * DAY
    try:
        result = await source.load(SYMBOL, "1h", since)
    finally:
        await source.close()
    (fresh,) = result.freshness
    assert fresh.ok and fresh.error == ""
    (s,) = result.series
    assert s.exchange == exchange and s.symbol == SYMBOL and s.timeframe == "1h" and not s.synthetic
    np.testing.assert_array_equal(s.timestamp, expected_opens(since, NOW, HOUR))
    assert fresh.last_candle_close_ms == s.last_close_time == (NOW // HOUR) * HOUR
    tape = stand_in.tape
    for i in (0, s.n - 1):
        o, h, lo, c, v, tb = (float(x) for x in tape.candle(int(s.timestamp[i]), HOUR))
        assert (s.open[i], s.high[i], s.low[i], s.close[i], s.volume[i]) == (o, h, lo, c, v)
        if exchange == "binanceusdm":  # raw klines column 9
            assert s.taker_buy_volume[i] == tb
        else:
            assert math.isnan(s.taker_buy_volume[i])
    # open interest in USD (Binance/OKX send USD; Bybit sends BTC, priced with the candle closes)
    assert s.oi_timestamp.size >= 23 and np.all(np.diff(s.oi_timestamp) > 0)
    t0 = int(s.oi_timestamp[0])
    assert s.oi_usd[0] == pytest.approx(tape.oi_btc(t0) * tape.price(t0), rel=0.02)
    assert np.all(s.oi_usd > 1e9)
    # funding settlements every 8h inside the window
    np.testing.assert_array_equal(np.diff(s.funding_timestamp), 8 * HOUR)
    assert s.funding_rate[0] == float(tape.funding(int(s.funding_timestamp[0])))


async def test_tiers_live_where_public_default_for_binance_without_keys(stand_in: ExchangeServer) -> None:
    source = source_for(stand_in, "binanceusdm", "bybit", "okx")
    try:
        result = await source.load(SYMBOL, "1h", NOW - 6 * HOUR)
    finally:
        await source.close()
    tiers = {s.exchange: s.tiers for s in result.series}
    assert tiers["binanceusdm"] == default_tiers()
    assert not stand_in.requests("binanceusdm", "/leverageBracket")  # no key: the private endpoint is not called
    bybit = tiers["bybit"]
    assert [(t.floor_usd, t.cap_usd, t.mmr, t.cum_usd) for t in bybit[:2]] == [
        (0.0, 2_000_000.0, 0.005, 0.0), (2_000_000.0, 3_600_000.0, 0.0075, 5000.0)]
    okx = tiers["okx"]  # contracts → USD with 0.01 BTC per contract at the last close
    last_close = next(s for s in result.series if s.exchange == "okx").close[-1]
    assert okx[1].floor_usd == pytest.approx(1000 * 0.01 * last_close)
    assert okx[1].cum_usd == pytest.approx(okx[1].floor_usd * (0.005 - 0.004))
    assert [t.max_leverage for t in okx] == [100.0, 75.0, 50.0]


@pytest.mark.parametrize(("exchange", "path", "min_pages"), [
    ("binanceusdm", "/klines", 2), ("bybit", "/kline", 3), ("okx", "candles", 7)])
async def test_long_window_is_paginated_without_gaps(
    stand_in: ExchangeServer, exchange: str, path: str, min_pages: int
) -> None:
    since = NOW - 7 * DAY  # 2016 candles of 5m: more than one page everywhere
    source = source_for(stand_in, exchange)
    try:
        result = await source.load(SYMBOL, "5m", since)
    finally:
        await source.close()
    (s,) = result.series
    np.testing.assert_array_equal(s.timestamp, expected_opens(since, NOW, TF5))
    assert len(stand_in.requests(exchange, path)) >= min_pages
    assert np.all(np.diff(s.oi_timestamp) == TF5) and s.oi_timestamp[0] - since < TF5  # OI paged without gaps


async def test_second_load_fetches_only_the_new_tail(stand_in: ExchangeServer) -> None:
    source = source_for(stand_in, "binanceusdm", "bybit")
    since = NOW - 2 * DAY
    try:
        first = await source.load(SYMBOL, "5m", since)
        last_close = first.series[0].last_close_time
        stand_in.log.clear()
        stand_in.tape.now_ms += 50 * 60_000  # time passes (within the hour that a market list is kept)
        second = await source.load(SYMBOL, "5m", since)
    finally:
        await source.close()
    for s in second.series:
        np.testing.assert_array_equal(s.timestamp, expected_opens(since, stand_in.tape.now_ms, TF5))
    (kl,) = stand_in.requests("binanceusdm", "/klines")
    assert int(kl.query["startTime"]) == last_close - TF5  # only the tail, from the newest cached candle
    (bk,) = stand_in.requests("bybit", "/kline")
    assert int(bk.query["start"]) == last_close - TF5
    assert not stand_in.requests("bybit", "instruments-info")  # markets are not reloaded within the hour


async def test_every_load_asks_the_exchange_so_an_outage_shows_at_once(stand_in: ExchangeServer) -> None:
    """Even when no new candle is due, a load asks for the tail: a failing exchange is reported at the next tick,
    not up to one candle later."""
    source = source_for(stand_in, "binanceusdm")
    try:
        await source.load(SYMBOL, "5m", NOW - DAY)
        stand_in.fail("binanceusdm", 503)
        stand_in.tape.now_ms += 1_000  # no new 5m candle is due
        result = await source.load(SYMBOL, "5m", NOW - DAY)
    finally:
        await source.close()
    assert not result.freshness[0].ok and result.series == []


@pytest.mark.parametrize("status", [429, 503])
async def test_transient_errors_are_retried(stand_in: ExchangeServer, status: int) -> None:
    stand_in.fail("binanceusdm", status, times=2)
    source = source_for(stand_in, "binanceusdm")
    try:
        result = await source.load(SYMBOL, "1h", NOW - 6 * HOUR)
    finally:
        await source.close()
    assert result.freshness[0].ok and result.series[0].n == 5  # 02:00..06:00 opens
    exchange_info = stand_in.requests("binanceusdm", "/exchangeInfo")
    assert len(exchange_info) == 3  # two failures, then success


async def test_one_exchange_down_never_blocks_the_others(stand_in: ExchangeServer) -> None:
    stand_in.fail("bybit", 503)  # always
    stand_in.refused.add("okx")  # nothing listening
    source = source_for(stand_in, "binanceusdm", "bybit", "okx")
    try:
        result = await source.load(SYMBOL, "1h", NOW - 6 * HOUR)
    finally:
        await source.close()
    assert [s.exchange for s in result.series] == ["binanceusdm"]
    fresh = {f.exchange: f for f in result.freshness}
    assert fresh["binanceusdm"].ok
    assert not fresh["bybit"].ok and "ExchangeNotAvailable" in fresh["bybit"].error
    assert not fresh["okx"].ok and fresh["okx"].error.startswith(("NetworkError", "ExchangeNotAvailable"))
    assert len(stand_in.requests("bybit", "instruments-info")) >= 4  # retried before giving up


async def test_unknown_symbol_is_a_clear_bad_symbol(stand_in: ExchangeServer) -> None:
    source = source_for(stand_in, "binanceusdm", "okx")
    try:
        result = await source.load("DOGE/USDT:USDT", "1h", NOW - 6 * HOUR)
    finally:
        await source.close()
    assert result.series == []
    for f in result.freshness:
        assert not f.ok
        assert f.error.startswith("BadSymbol: DOGEUSDT (DOGE/USDT:USDT) is not listed on")
    assert len(stand_in.requests("binanceusdm", "/exchangeInfo")) == 1  # not retried


async def test_unknown_timeframe_raises_one_line(stand_in: ExchangeServer) -> None:
    from bot.market.errors import MarketError

    source = source_for(stand_in, "binanceusdm")
    with pytest.raises(MarketError, match="unknown timeframe '7m'"):
        await source.load(SYMBOL, "7m", NOW - HOUR)
    await source.close()


async def test_until_cuts_to_candles_closed_by_then() -> None:
    server = ExchangeServer(Tape(start_ms=NOW - 3 * DAY, now_ms=NOW))
    await server.start()
    source = source_for(server, "okx")
    try:
        at = NOW - 5 * HOUR - 17
        result = await source.load(SYMBOL, "1h", NOW - DAY, at)
    finally:
        await source.close()
        await server.close()
    (s,) = result.series
    assert s.last_close_time <= at and s.last_close_time > at - HOUR
    assert s.oi_timestamp[-1] <= at and s.funding_timestamp[-1] <= at


async def test_the_history_cache_is_bounded(stand_in: ExchangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """However many (symbol, timeframe) pairs are asked for, the in-memory history stays at ``CACHED_SERIES``
    (least recently used dropped first); a dropped one is simply fetched again in full."""
    import bot.market.ccxt_source as module

    monkeypatch.setattr(module, "CACHED_SERIES", 2)
    source = source_for(stand_in, "binanceusdm")
    try:
        for tf in ("5m", "15m", "1h"):
            await source.load(SYMBOL, tf, NOW - HOUR * 6)
        assert len(source._cache) == 2  # 5m was dropped
        stand_in.log.clear()
        again = await source.load(SYMBOL, "5m", NOW - HOUR * 6)
    finally:
        await source.close()
    assert again.series and again.series[0].n >= 6 * 12 - 1  # the closed candles of the six hours
    (kl,) = stand_in.requests("binanceusdm", "/klines")
    assert int(kl.query["startTime"]) <= NOW - HOUR * 6  # the whole window again, not a tail


async def test_market_lists_are_reloaded_hourly_and_a_failed_reload_keeps_the_old_list(
    stand_in: ExchangeServer,
) -> None:
    """New listings and changed tiers reach a bot that runs for months: each market list is reloaded once per
    ``MARKETS_REFRESH_MS`` of the source's clock; a reload during an outage keeps the list loaded before."""
    from bot.market.ccxt_source import MARKETS_REFRESH_MS

    source = source_for(stand_in, "bybit")
    try:
        assert await source.supports(SYMBOL)
        first = len(stand_in.requests("bybit", "instruments-info"))
        assert first >= 1
        stand_in.tape.now_ms += MARKETS_REFRESH_MS - 60_000
        assert await source.supports(SYMBOL)
        assert len(stand_in.requests("bybit", "instruments-info")) == first  # within the hour: the cached list
        stand_in.tape.now_ms += 60_000
        assert await source.supports(SYMBOL)
        second = len(stand_in.requests("bybit", "instruments-info"))
        assert second > first  # reloaded
        stand_in.fail("bybit", 503)  # an outage at the next reload
        stand_in.tape.now_ms += MARKETS_REFRESH_MS
        assert await source.supports(SYMBOL) and not await source.supports("DOGE/USDT:USDT")
        assert len(stand_in.requests("bybit", "instruments-info")) == second + 1  # one attempt, no retry storm
    finally:
        await source.close()
