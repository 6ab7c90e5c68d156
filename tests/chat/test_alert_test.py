"""``alert test``: the reply of ``alert_test_reply`` on a real SQLite database holding stored candles (as the job
leaves them), behind the production source wrapper (``StoredSource``), with a known outcome; bad input, missing
data, the synthetic fallback and the concurrency cap."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import alert_test
from bot.chat.alert_test import BUSY, alert_test_reply, alert_test_step_ms
from bot.engine import MapEngine
from bot.market.replay import write_dataset
from bot.market.source import ReplaySource, SimSource
from bot.market.stored_source import StoredSource
from bot.storage import market_cache
from bot.storage.db import Database
from tests.model.test_backtest_alerts import PARAMS, walk_into_zone

H = 3_600_000
SIM_NOW = 1_780_000_000_000


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    try:
        yield db
    finally:
        db.dispose()


def _engine_with_stored_walk(db: Database, tmp_path: Path) -> MapEngine:
    """The constructed walk into a long zone (1h candles: the 7d window's timeframe), stored in the database as the
    periodic job stores what it loads, behind ``StoredSource`` like the bot's engine."""
    series = walk_into_zone(flat_h=180, rest_h=30, exchange="binanceusdm")
    write_dataset(series, tmp_path / "walk", "test fixture")
    with db.session() as s:
        market_cache.save_series(s, series)
    return MapEngine(StoredSource(ReplaySource(tmp_path / "walk"), db), params=PARAMS)


def test_reply_on_stored_candles(database: Database, tmp_path: Path) -> None:
    engine = _engine_with_stored_walk(database, tmp_path)
    reply = asyncio.run(alert_test_reply(database, engine, "BTC window 7d", clock=lambda: 0))
    assert not reply.error
    # two armings, two alerts; the zone was reached after both; the rally after the first one crossed the mirrored
    # zone above price, the fall after the second did not
    assert reply.text == "\n".join(
        [
            "Alert test, history and not a promise: BTCUSDT 7d within 1.00% · both sides · cooldown 30m",
            "Over the last 3.1 days (75 hourly checks on the stored candles: all the stored history allows) this "
            "alert would have fired 2 times.",
            "The zone was reached within 24h in 100% (2 of 2); at zones the same distance away on the other side: "
            "50% (1 of 2).",
            "Past alerts say nothing certain about the next one. Estimate, not financial advice.",
        ]
    )
    quiet = asyncio.run(alert_test_reply(database, engine, "BTCUSDT 1% window 7d cooldown 7d", clock=lambda: 0))
    assert "would have fired once." in quiet.text and "100% (1 of 1)" in quiet.text


def test_bad_input_and_missing_data(database: Database, tmp_path: Path) -> None:
    engine = _engine_with_stored_walk(database, tmp_path)
    for args, words in (
        ("", "which symbol? use alert test <symbol>"),
        ("BTC 1.5% sid long", "I don't understand 'sid'"),
        ("BTC 40%", "between 0.01% and 20%"),
        ("BTC window 5h", "unknown window"),
    ):
        reply = asyncio.run(alert_test_reply(database, engine, args, clock=lambda: 0))
        assert reply.error and words in reply.text and "\n" not in reply.text
    none = asyncio.run(alert_test_reply(database, engine, "ETH window 7d", clock=lambda: 0))
    assert none.error and none.text.startswith("No stored market data for ETHUSDT 7d yet")
    short = asyncio.run(alert_test_reply(database, engine, "BTC window 30d", clock=lambda: 0))
    assert short.error and "No stored market data for BTCUSDT 30d" in short.text  # 4h candles were never stored


def test_synthetic_source_is_replayed_and_labelled(database: Database) -> None:
    engine = MapEngine(SimSource(("binanceusdm",), now_ms=SIM_NOW))
    reply = asyncio.run(alert_test_reply(database, engine, "BTC 1.5%", clock=lambda: SIM_NOW))
    assert not reply.error
    assert "Over the last 7 days (168 hourly checks on the synthetic market)" in reply.text
    assert "SYNTHETIC market data" in reply.text and "history and not a promise" in reply.text


def test_busy_when_the_cap_is_reached(database: Database, tmp_path: Path) -> None:
    engine = _engine_with_stored_walk(database, tmp_path)
    held = [alert_test._running.acquire(blocking=False) for _ in range(alert_test.MAX_RUNNING)]
    try:
        assert all(held)
        reply = asyncio.run(alert_test_reply(database, engine, "BTC window 7d", clock=lambda: 0))
        assert reply.error and reply.text == BUSY
    finally:
        for _ in held:
            alert_test._running.release()
    assert not asyncio.run(alert_test_reply(database, engine, "BTC window 7d", clock=lambda: 0)).error


def test_steps_are_bounded() -> None:
    assert alert_test_step_ms("24h") == H  # hourly over 7 days: 168 steps
    assert alert_test_step_ms("30d") == 4 * H  # never finer than the window's 4h candles
    assert alert_test_step_ms("24h", days=30) == 5 * H  # at most 168 steps
