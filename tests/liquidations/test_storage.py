"""``liquidation_events`` on SQLite and PostgreSQL: repeats ignored, prints of a (symbol, interval), the hours a
self-score can use, retention; and the watcher's bounded queue (the oldest dropped, never blocking)."""

from __future__ import annotations

from bot.market.liq_watcher import LiquidationWatcher
from bot.storage.db import Database
from bot.storage.liquidations import LiqRow, count_events, hours_covered, insert_events, load_prints
from bot.storage.retention import DAY_MS, RetentionPolicy, prune
from tests.market.conftest import NOW
from tests.standins.exchange_server import HOUR

SYMBOL = "BTC/USDT:USDT"


def row(ts: int, side: str = "long", price: float = 60_000.0, amount: float = 1.0, exchange: str = "bybit",
        lower_bound: bool = False) -> LiqRow:
    return LiqRow(exchange, SYMBOL, ts, side, price, amount, price * amount, lower_bound)


def test_insert_ignores_repeats_and_loads_prints(db: Database) -> None:
    rows = [row(NOW - 3 * HOUR), row(NOW - HOUR, "short", 61_000.0, 0.5),
            row(NOW - HOUR, "long", 59_000.0, 2.0, "binanceusdm", lower_bound=True)]
    assert insert_events(db, rows) == 3
    assert insert_events(db, [rows[0], row(NOW - 10, "short")]) == 1  # a reconnect's repeat is not stored twice
    assert count_events(db) == 4
    p = load_prints(db, SYMBOL, NOW - 2 * HOUR, NOW)
    assert p.n == 3 and p.time_ms.tolist() == sorted(p.time_ms.tolist())
    assert p.exchanges == ("binanceusdm", "bybit") and p.lower_bound and p.source == "stream"
    assert p.totals() == (118_000.0, 30_500.0 + 60_000.0)
    assert load_prints(db, SYMBOL, NOW - 2 * HOUR, NOW, exchanges=["bybit"]).n == 2
    assert load_prints(db, "ETH/USDT:USDT", 0, NOW).n == 0
    hour0 = (NOW - 3 * HOUR) // HOUR * HOUR
    assert hours_covered(db, SYMBOL, 0, NOW) == [hour0, hour0 + 2 * HOUR, NOW // HOUR * HOUR]


def test_retention_prunes_old_events(db: Database) -> None:
    insert_events(db, [row(NOW - 50 * DAY_MS), row(NOW - DAY_MS)])
    with db.session() as s:
        assert prune(s, NOW, RetentionPolicy())["liquidation_events"] == 1
    assert count_events(db) == 1


def test_the_queue_is_bounded_and_never_waits(db: Database) -> None:
    watcher = LiquidationWatcher(db, ["bybit"], [SYMBOL], queue_max=3)
    watcher._put([row(NOW - i) for i in range(5, 0, -1)])  # what a stream task hands over: returns at once
    assert watcher.dropped == 2 and [r.ts for r in watcher._pending] == [NOW - 3, NOW - 2, NOW - 1]
