"""StoredSource: a restart resumes from the database instead of refetching the whole window."""

from __future__ import annotations

import numpy as np

from bot.market.source import SimSource
from bot.market.stored_source import StoredSource
from bot.storage import migrate
from bot.storage.db import Database
from tests.market.conftest import NOW, SYMBOL, source_for
from tests.standins.exchange_server import DAY, HOUR, ExchangeServer

TF5 = 5 * 60_000


def _db(tmp_path: object) -> Database:
    url = f"sqlite:///{tmp_path}/store.db"
    migrate.upgrade(url)
    return Database(url)


async def test_restart_fetches_only_the_tail(stand_in: ExchangeServer, tmp_path: object) -> None:
    db = _db(tmp_path)
    since = NOW - 2 * DAY
    first_source = StoredSource(source_for(stand_in, "binanceusdm", "okx"), db)
    try:
        first = await first_source.load(SYMBOL, "5m", since)
    finally:
        await first_source.close()
    last_close = min(s.last_close_time for s in first.series)

    stand_in.log.clear()
    stand_in.tape.now_ms += HOUR  # the process restarts an hour later with an empty in-memory cache
    second_source = StoredSource(source_for(stand_in, "binanceusdm", "okx"), db)
    try:
        second = await second_source.load(SYMBOL, "5m", since)
    finally:
        await second_source.close()
    db.dispose()

    (kl,) = stand_in.requests("binanceusdm", "/klines")
    assert int(kl.query["startTime"]) >= last_close - TF5  # resumed, not the 2-day window again
    for s in second.series:
        assert s.timestamp[0] - since < TF5 and s.last_close_time > last_close  # whole window, new tail included
        assert np.all(np.diff(s.timestamp) == TF5)  # stored rows and the new tail join without gaps or repeats
        assert s.oi_usd.size and np.all(np.diff(s.oi_timestamp) > 0)


async def test_stored_history_never_stands_in_for_a_failed_exchange(
    stand_in: ExchangeServer, tmp_path: object
) -> None:
    db = _db(tmp_path)
    since = NOW - 6 * HOUR
    source = StoredSource(source_for(stand_in, "binanceusdm"), db)
    try:
        before = await source.load(SYMBOL, "5m", since)
    finally:
        await source.close()
    stand_in.fail("binanceusdm", 503)
    down = StoredSource(source_for(stand_in, "binanceusdm"), db)
    try:
        result = await down.load(SYMBOL, "5m", since)
        assert not result.freshness[0].ok and result.series == []  # failing: its old candles stay out of the map
        stand_in.failures.clear()
        back = await down.load(SYMBOL, "5m", since)  # it recovers: rejoins with its stored history
    finally:
        await down.close()
    db.dispose()
    assert back.freshness[0].ok
    np.testing.assert_array_equal(back.series[0].timestamp, before.series[0].timestamp)


async def test_synthetic_data_is_never_stored(tmp_path: object) -> None:
    db = _db(tmp_path)
    source = StoredSource(SimSource(["okx"], seed=3, now_ms=NOW), db)
    result = await source.load(SYMBOL, "5m", NOW - DAY)
    assert result.series[0].synthetic
    with db.session() as s:
        from bot.storage import market_cache

        assert market_cache.latest_candle_ts(s, "okx", SYMBOL, "5m") is None
    db.dispose()


async def test_a_longer_span_after_a_shorter_one_loads_its_whole_history(
    stand_in: ExchangeServer, tmp_path: object
) -> None:
    """The 12h map stores 5m candles over its span; the 24h map (same candles) asked next must read all of its
    own span, not the 12h map's stored rows plus a tail: a map never depends on which command came first."""
    db = _db(tmp_path)
    source = StoredSource(source_for(stand_in, "binanceusdm", "okx"), db)
    try:
        await source.load(SYMBOL, "5m", NOW - 15 * HOUR)
        longer = await source.load(SYMBOL, "5m", NOW - 2 * DAY)
        for s in longer.series:
            assert s.timestamp[0] - (NOW - 2 * DAY) < TF5 and np.all(np.diff(s.timestamp) == TF5)
        stand_in.log.clear()
        await source.load(SYMBOL, "5m", NOW - 2 * DAY)  # now stored: the tail only
    finally:
        await source.close()
    db.dispose()
    (kl,) = stand_in.requests("binanceusdm", "/klines")
    assert int(kl.query["startTime"]) >= NOW - TF5 * 2


async def test_history_older_than_the_exchange_has_is_asked_for_once(
    stand_in: ExchangeServer, tmp_path: object
) -> None:
    """Asking for more history than the exchange holds (a young listing) refetches the head once per process,
    then only the tail."""
    db = _db(tmp_path)
    since = stand_in.tape.start_ms - DAY  # before the stand-in's first candle
    source = StoredSource(source_for(stand_in, "binanceusdm"), db)
    try:
        await source.load(SYMBOL, "5m", since)
        stand_in.log.clear()
        again = await source.load(SYMBOL, "5m", since)
    finally:
        await source.close()
    db.dispose()
    assert 0 <= again.series[0].timestamp[0] - stand_in.tape.start_ms < TF5  # all it has
    (kl,) = stand_in.requests("binanceusdm", "/klines")
    assert int(kl.query["startTime"]) >= stand_in.tape.now_ms - 2 * TF5
