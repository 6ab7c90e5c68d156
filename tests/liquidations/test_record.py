"""``liqmap record`` records liquidations too: ``liquidations.csv`` in the dataset format holds the events the bot
stored from the streams over the window plus those heard while recording (the real ccxt.pro watcher against the
websocket stand-in), and reads back through the dataset loader."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from bot.market.record import record
from bot.market.replay import load_dataset
from bot.storage.db import Database
from bot.storage.liquidations import LiqRow, insert_events
from tests.market.conftest import NO_WAIT, NOW
from tests.reliability.shipped import exchange_options
from tests.standins.exchange_server import DAY, HOUR, ExchangeServer
from tests.standins.liquidation_ws import LiquidationWsServer, bybit_event, bybit_frame, ws_urls

SYMBOL = "BTC/USDT:USDT"


def stored(ts: int, side: str, price: float, amount: float, exchange: str = "bybit") -> LiqRow:
    return LiqRow(exchange, SYMBOL, ts, side, price, amount, price * amount)


async def test_record_writes_recorded_and_heard_liquidations(
    rest: ExchangeServer, ws: LiquidationWsServer, tmp_path: Path, sqlite_url: str
) -> None:
    db = Database(sqlite_url)
    insert_events(db, [
        stored(NOW - 2 * DAY, "long", 60_000.0, 1.0),  # before the window: left out
        stored(NOW - 5 * HOUR, "long", 64_000.5, 0.25),
        stored(NOW - 3 * HOUR, "short", 65_000.0, 2.0),
        stored(NOW - 3 * HOUR, "short", 65_000.0, 9.0, exchange="okx"),  # another exchange: left out
    ])
    options = exchange_options(rest, ("bybit",))["bybit"]
    options["urls"]["api"]["ws"] = ws_urls("bybit", ws.port)

    async def exchange_side() -> None:
        await ws.subscribed("bybit")
        await ws.push("bybit", bybit_frame([bybit_event(NOW + 1000, "Sell", "0.5", "64100"),
                                            bybit_event(NOW - 5 * HOUR, "Buy", "0.25", "64000.5")]))  # a repeat

    try:
        out, _ = await asyncio.gather(
            record("bybit", SYMBOL, "1h", 1, tmp_path / "rec", exchange_factory=rest.factory, now_ms=NOW,
                   retry=NO_WAIT, db=db, listen_s=4.0, ws_options=options),
            exchange_side(),
        )
    finally:
        db.dispose()
    header = (out / "liquidations.csv").read_text().splitlines()[0]
    assert header == "timestamp,side,price,amount"
    s = load_dataset(out)
    assert s.liq_timestamp.tolist() == [NOW - 5 * HOUR, NOW - 3 * HOUR, NOW + 1000]
    assert s.liq_side.tolist() == [1, -1, -1]
    assert s.liq_price.tolist() == pytest.approx([64_000.5, 65_000.0, 64_100.0])
    assert s.liq_amount.tolist() == pytest.approx([0.25, 2.0, 0.5])
    assert "3 events recorded from the bybit liquidation stream" in (out / "meta.json").read_text()


async def test_record_without_a_database_or_listening_writes_no_liquidations(rest: ExchangeServer,
                                                                             tmp_path: Path) -> None:
    out = await record("bybit", SYMBOL, "1h", 1, tmp_path / "rec", exchange_factory=rest.factory, now_ms=NOW,
                       retry=NO_WAIT)
    assert not (out / "liquidations.csv").exists()
    assert load_dataset(out).liq_timestamp.size == 0 and np.all(np.isfinite(load_dataset(out).close))
