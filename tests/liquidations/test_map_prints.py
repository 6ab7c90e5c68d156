"""Every map carries the real prints of its window: live, the events the watcher stored (through ccxt.pro and the
websocket stand-in); on a replay (``--source replay:DIR``), the dataset's ``liquidations.csv`` up to virtual now and
never beyond it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.app import App, prepare_app
from bot.clock import wall_ms
from bot.config import Settings
from bot.market.replay import load_dataset
from bot.replay_run import ReplayOptions
from tests.conftest import shared_dataset
from tests.liquidations.conftest import until
from tests.market.conftest import NOW
from tests.standins.exchange_server import HOUR
from tests.standins.liquidation_ws import LiquidationWsServer, bybit_event, bybit_frame

SYMBOL = "BTC/USDT:USDT"


async def test_live_map_carries_the_stored_prints(app: App, ws: LiquidationWsServer) -> None:
    assert app.liquidations is not None
    app.liquidations.start()
    await ws.subscribed("bybit")
    await ws.push("bybit", bybit_frame([bybit_event(NOW - 30 * HOUR, "Buy", "9", "61000"),  # before the 24h window
                                        bybit_event(NOW - 2 * HOUR, "Buy", "2", "61000"),
                                        bybit_event(NOW - HOUR, "Sell", "1", "62000")]))
    await until(lambda: app.liquidations is not None and app.liquidations.stored == 3)
    m = (await app.engine.compute(SYMBOL, "24h", at_ms=NOW)).map
    assert m.prints is not None and m.prints.source == "stream" and m.prints.exchanges == ("bybit",)
    assert m.prints.time_ms.tolist() == [NOW - 2 * HOUR, NOW - HOUR]
    assert m.prints.totals() == (122_000.0, 62_000.0)


async def test_replay_map_carries_the_dataset_prints_up_to_virtual_now(tmp_path: Path) -> None:
    data = shared_dataset("okx-btc-2026-03")
    liq = load_dataset(data)
    at = int(liq.liq_timestamp[len(liq.liq_timestamp) // 2]) // HOUR * HOUR  # mid-way through the recorded feed
    settings = Settings(_env_file=None, source=f"replay:{data}", data_dir=tmp_path,  # type: ignore[call-arg]
                        health_port=0)
    app, plan = await prepare_app(settings, wall_ms, ReplayOptions(speed=1.0, from_ms=at, given=True))
    try:
        assert plan is not None and app.liquidations is None  # a replay never listens to live streams
        m = (await app.engine.compute(SYMBOL, "24h", at_ms=at)).map
    finally:
        await app.close()
    assert m.prints is not None and m.prints.source == "dataset"
    expected = (liq.liq_timestamp > at - 24 * HOUR) & (liq.liq_timestamp <= at)
    assert m.prints.n == int(expected.sum()) > 0
    assert int(m.prints.time_ms.max()) <= at  # nothing from after virtual now
    assert np.allclose(np.sort(m.prints.usd), np.sort(liq.liq_price[expected] * liq.liq_amount[expected]))
