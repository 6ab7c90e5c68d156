"""Market cache round trip (only new rows on a later save) and lease exclusivity across connections."""

from __future__ import annotations

import threading

import numpy as np

from bot.market.sim import synthetic_series
from bot.market.types import MarketSeries
from bot.storage import leases, market_cache
from bot.storage.db import Database
from tests.storage.helpers import T0

BTC = "BTC/USDT:USDT"
HOUR = 3_600_000


def _assert_same(a: MarketSeries, b: MarketSeries) -> None:
    for name in ("timestamp", "open", "high", "low", "close", "volume", "taker_buy_volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("oi_timestamp", "oi_usd", "funding_timestamp", "funding_rate"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.exchange, a.symbol, a.timeframe, a.contract, a.synthetic) == (
        b.exchange, b.symbol, b.timeframe, b.contract, b.synthetic,
    )  # fmt: skip


def test_market_series_round_trip_and_incremental_save(db: Database) -> None:
    day = synthetic_series("bybit", BTC, "5m", T0, 288, seed=7)
    assert day.synthetic and day.funding_timestamp.size > 0 and day.oi_timestamp.size == 288
    with db.session() as s:
        assert market_cache.save_series(s, day) == 288
    with db.session() as s:
        loaded = market_cache.load_series(s, "bybit", BTC, "5m", 0, T0 + HOUR)
        assert market_cache.latest_candle_ts(s, "bybit", BTC, "5m") == int(day.timestamp[-1])
        assert market_cache.load_series(s, "okx", BTC, "5m", 0, T0) is None
    assert loaded is not None
    _assert_same(day, loaded)

    later = synthetic_series("bybit", BTC, "5m", T0 + 2 * HOUR, 288, seed=7)  # 24 new candles, rest overlap
    with db.session() as s:
        assert market_cache.save_series(s, later) == 24
        assert market_cache.save_series(s, later) == 0
    with db.session() as s:
        both = market_cache.load_series(s, "bybit", BTC, "5m", 0, T0 + 3 * HOUR)
        window = market_cache.load_series(s, "bybit", BTC, "5m", int(later.timestamp[0]), T0 + 3 * HOUR)
    assert both is not None and both.n == 312
    assert window is not None
    _assert_same(later, window)


def test_nan_values_survive_as_nan(db: Database) -> None:
    s0 = synthetic_series("okx", BTC, "1h", T0, 5, seed=1)
    vol = s0.volume.copy()
    vol[2] = np.nan
    series = MarketSeries(
        exchange="okx", symbol=BTC, timeframe="1h", timestamp=s0.timestamp, open=s0.open, high=s0.high,
        low=s0.low, close=s0.close, volume=vol, taker_buy_volume=np.full(5, np.nan),
    )  # fmt: skip
    with db.session() as s:
        market_cache.save_series(s, series)
    with db.session() as s:
        back = market_cache.load_series(s, "okx", BTC, "1h", 0, T0)
    assert back is not None
    np.testing.assert_array_equal(back.volume, vol)
    assert np.isnan(back.taker_buy_volume).all() and back.oi_usd.size == 0 and not back.synthetic


def test_lease_is_exclusive_across_connections_and_expires(db_url: str) -> None:
    a, b = Database(db_url), Database(db_url)
    try:
        assert leases.try_acquire(a, "recompute", "replica-a", 10_000, T0)
        assert not leases.try_acquire(b, "recompute", "replica-b", 10_000, T0 + 1)
        assert leases.try_acquire(a, "recompute", "replica-a", 10_000, T0 + 5_000)  # renew until T0 + 15s
        assert not leases.try_acquire(b, "recompute", "replica-b", 10_000, T0 + 14_999)
        assert leases.lease_holder(b, "recompute", T0 + 14_999) == "replica-a"
        assert leases.try_acquire(b, "other-job", "replica-b", 10_000, T0)  # names are independent
        # replica-a stops renewing: after expiry replica-b takes over, and a cannot take it back
        assert leases.try_acquire(b, "recompute", "replica-b", 10_000, T0 + 15_001)
        assert not leases.try_acquire(a, "recompute", "replica-a", 10_000, T0 + 15_002)
        assert not leases.release(a, "recompute", "replica-a")
        assert leases.release(b, "recompute", "replica-b")
        assert leases.lease_holder(a, "recompute", T0 + 15_003) is None
        assert leases.try_acquire(a, "recompute", "replica-a", 10_000, T0 + 15_003)
    finally:
        a.dispose()
        b.dispose()


def test_racing_replicas_get_exactly_one_lease(db_url: str) -> None:
    n = 6
    barrier = threading.Barrier(n)
    results: list[bool] = []
    errors: list[BaseException] = []

    def replica(i: int) -> None:
        own = Database(db_url)
        try:
            barrier.wait()
            results.append(leases.try_acquire(own, "recompute", f"replica-{i}", 10_000, T0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(results) == [False] * (n - 1) + [True]
