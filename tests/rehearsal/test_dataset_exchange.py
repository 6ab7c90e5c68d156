"""The dataset stand-in itself (fast): liqmap's real ``CcxtSource`` (ccxt's own requests and parsing) reads the
recorded Binance dataset back from all three exchanges' wire formats, exactly as recorded; the open-interest gap of
the recording stays a gap; unknown volume stays unknown; and the market-time faults hit only the requests whose
upper bound falls in their window."""

from __future__ import annotations

import numpy as np
import pytest

from bot.market.ccxt_fetch import RetryPolicy
from bot.market.ccxt_source import CcxtSource
from bot.timeparse import parse_time
from tests.rehearsal.helpers import HOUR
from tests.standins.dataset_exchange import DatasetExchangeServer, DatasetTape, request_end

pytestmark = pytest.mark.shared_data
SYMBOL = "BTC/USDT:USDT"
ALL = ("binanceusdm", "bybit", "okx")


async def no_wait(_seconds: float) -> None:
    """Back off without waiting."""


def source(server: DatasetExchangeServer, at: int, *exchanges: str) -> CcxtSource:
    return CcxtSource(exchanges or ALL, exchange_factory=server.factory, clock=lambda: at,
                      retry=RetryPolicy(attempts=3, sleep=no_wait))


async def test_every_exchange_serves_the_recording_as_recorded(tape: DatasetTape) -> None:
    server = DatasetExchangeServer(tape)
    await server.start()
    at = parse_time("2026-06-10T12:00Z")
    src = source(server, at)
    try:
        got = await src.load(SYMBOL, "5m", at - 6 * HOUR, at)
    finally:
        await src.close()
        await server.close()
    assert all(f.ok for f in got.freshness), got.freshness
    rec = tape.series
    want = (rec.timestamp >= at - 6 * HOUR) & (rec.timestamp + 300_000 <= at)
    for series in got.series:
        assert np.array_equal(series.timestamp, rec.timestamp[want]), series.exchange
        for col in ("open", "high", "low", "close"):
            assert np.allclose(getattr(series, col), getattr(rec, col)[want]), (series.exchange, col)
        assert np.isnan(series.volume).all(), "the recording has no volume: it must stay unknown, not zero"
        oi_want = (rec.oi_timestamp >= at - 6 * HOUR) & (rec.oi_timestamp < at)
        assert np.array_equal(series.oi_timestamp, rec.oi_timestamp[oi_want]), series.exchange
        if series.exchange != "bybit":  # Binance and OKX send the USD value itself; Bybit BTC (liqmap converts)
            assert np.allclose(series.oi_usd, rec.oi_usd[oi_want], rtol=1e-6), series.exchange
        assert np.array_equal(series.funding_timestamp,
                              rec.funding_timestamp[(rec.funding_timestamp >= at - 6 * HOUR)
                                                    & (rec.funding_timestamp < at)])


async def test_the_open_interest_gap_stays_a_gap(tape: DatasetTape) -> None:
    server = DatasetExchangeServer(tape)
    await server.start()
    at = parse_time("2026-06-15T00:00Z")  # inside the recording's OI gap (2026-06-14 15:05 -> 06-20 10:55)
    src = source(server, at)
    try:
        got = await src.load(SYMBOL, "5m", at - 12 * HOUR, at)
    finally:
        await src.close()
        await server.close()
    for series in got.series:
        assert series.n == 144
        assert series.oi_timestamp.size and series.oi_timestamp.max() < parse_time("2026-06-14T15:05Z")


async def test_outages_and_storms_follow_market_time(tape: DatasetTape) -> None:
    server = DatasetExchangeServer(tape)
    await server.start()
    at = parse_time("2026-06-10T12:00Z")
    server.outage(("okx",), at - HOUR, at + HOUR)
    server.storm(at - HOUR, at + HOUR, first=1)
    early, late = source(server, at - 2 * HOUR), source(server, at)
    try:
        before = await early.load(SYMBOL, "5m", at - 8 * HOUR, at - 2 * HOUR)
        during = await late.load(SYMBOL, "5m", at - 8 * HOUR, at)
    finally:
        await early.close()
        await late.close()
        await server.close()
    assert all(f.ok for f in before.freshness)  # ends before the window: untouched
    assert {f.exchange: f.ok for f in during.freshness} == {"binanceusdm": True, "bybit": True, "okx": False}
    assert {a.status for a in server.answers if a.exchange == "okx" and a.end is not None
            and a.end >= at - HOUR} == {503}
    stormed = [a for a in server.answers if a.status == 429]
    assert stormed and all(at - HOUR <= (a.end or 0) < at + HOUR for a in stormed)
    assert request_end({"symbol": "BTCUSDT"}) is None and request_end({"endTime": "5"}) == 5


async def test_bybit_open_interest_is_valued_at_its_instant_whenever_fetched(tape: DatasetTape) -> None:
    """Bybit sends open interest in BTC; liqmap converts it to USD. Valued at the price of its instant it equals what
    Binance and OKX send (the recorded USD), and it must not depend on when it was fetched: the job fetches at its
    ticks, chat commands and alert images in between."""
    server = DatasetExchangeServer(tape)
    await server.start()
    at = parse_time("2026-06-10T12:00Z")
    whole, tail = source(server, at, "bybit"), source(server, at, "bybit")
    try:
        once = (await whole.load(SYMBOL, "5m", at - 6 * HOUR, at)).series[0]
        for t in (at - 12 * 60_000, at - 7 * 60_000, at):  # two loads between ticks (an image, a command), one on
            tail._clock = lambda t=t: t  # type: ignore[misc]  # the tick; each asks for the tail again
            got = await tail.load(SYMBOL, "5m", at - 6 * HOUR, t)
        again = got.series[0]
    finally:
        await whole.close()
        await tail.close()
        await server.close()
    rec = tape.series
    want = rec.oi_usd[np.searchsorted(rec.oi_timestamp, once.oi_timestamp)]
    assert np.array_equal(once.oi_timestamp, again.oi_timestamp)
    assert np.allclose(again.oi_usd, once.oi_usd, rtol=1e-9), "the same sample got another value when fetched later"
    assert np.allclose(once.oi_usd, want, rtol=1e-6), "not valued at the price of its instant"
