"""Real liquidations, live: the shipped app's watcher runs the REAL ccxt.pro exchange classes (their own
subscribe, ping and ``parse_ws_liquidation`` code) against a websocket stand-in speaking each exchange's format, and
stores what they parse in a real SQLite file. Reconnects after a dropped connection and malformed frames too."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from bot.app import App, run_until_stopped
from bot.storage.liquidations import LiqRow, count_events, load_prints, load_rows
from tests.conftest import shared_dataset
from tests.liquidations.conftest import live_options, until
from tests.market.conftest import NOW
from tests.reliability.shipped import ALL, shipped_app, shipped_settings
from tests.standins.exchange_server import ExchangeServer, closed_port
from tests.standins.liquidation_ws import LiquidationWsServer, bybit_event, bybit_frame, okx_frame

SYMBOL = "BTC/USDT:USDT"


def rows(app: App, exchange: str) -> list[LiqRow]:
    """Everything stored for ``exchange``."""
    return load_rows(app.db, exchange, SYMBOL, 0, 2**62)


async def listening(app: App, ws: LiquidationWsServer, exchange: str) -> None:
    """Start the app's watcher (as ``liqmap run`` does) and wait for ``exchange`` to subscribe."""
    assert app.liquidations is not None, "LIQMAP_SOURCE=ccxt must listen to liquidations by default"
    app.liquidations.start()
    await ws.subscribed(exchange)


async def test_default_is_on_for_ccxt_and_listens_to_all_three(app: App, ws: LiquidationWsServer) -> None:
    assert app.liquidations is not None and app.liquidations.exchanges == ("binanceusdm", "bybit", "okx")
    app.liquidations.start()
    for ex in ("bybit", "binanceusdm", "okx"):
        await ws.subscribed(ex)
    assert ws.subscriptions["bybit"][0] == ["allLiquidation.BTCUSDT"]
    assert ws.subscriptions["binanceusdm"][0] == ["btcusdt@forceOrder"]
    assert ws.subscriptions["okx"][0] == [{"channel": "liquidation-orders", "instType": "SWAP"}]


async def test_bybit_all_liquidation_position_side(app: App, ws: LiquidationWsServer) -> None:
    """Bybit publishes the POSITION side: Buy = a long was liquidated."""
    await listening(app, ws, "bybit")
    await ws.push("bybit", bybit_frame([bybit_event(NOW - 2000, "Buy", "0.5", "64000.5"),
                                        bybit_event(NOW - 1000, "Sell", "1.25", "64200")]))
    await until(lambda: len(rows(app, "bybit")) == 2)
    long_, short = rows(app, "bybit")
    assert (long_.ts, long_.side, long_.price, long_.amount) == (NOW - 2000, "long", 64000.5, 0.5)
    assert long_.usd == pytest.approx(32000.25)
    assert (short.ts, short.side, short.amount, short.usd) == (NOW - 1000, "short", 1.25, pytest.approx(80250.0))
    assert not long_.lower_bound and not short.lower_bound  # allLiquidation is complete


async def test_okx_liquidation_orders_order_side_contracts_and_every_detail(app: App, ws: LiquidationWsServer) -> None:
    """OKX publishes the ORDER side (sell = a long was liquidated), sizes in contracts of 0.01 BTC, and may list
    several liquidations in one message (ccxt parses only the first; each one is stored)."""
    await listening(app, ws, "okx")
    second = {"bkLoss": "0", "bkPx": "65010.2", "ccy": "", "posSide": "short", "side": "buy", "sz": "300",
              "ts": str(NOW - 500)}
    await ws.push("okx", okx_frame(NOW - 900, "sell", "long", "12", "63990.1", more=[second]))
    await ws.push("okx", okx_frame(NOW - 100, "sell", "long", "7", "63000", inst_id="ETH-USDT-SWAP"))  # not tracked
    await until(lambda: len(rows(app, "okx")) == 2)
    long_, short = rows(app, "okx")
    assert (long_.side, long_.amount, long_.price) == ("long", pytest.approx(0.12), 63990.1)
    assert long_.usd == pytest.approx(0.12 * 63990.1)
    assert (short.side, short.amount, short.ts) == ("short", pytest.approx(3.0), NOW - 500)
    assert count_events(app.db) == 2


def forceorder_frames() -> tuple[list[dict], Path]:
    """The real Binance ``forceOrder`` events of the shared capture (skips when the dataset is absent)."""
    path = shared_dataset("binance-forceorder-2025-01")
    lines = (path / "forceorder_events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()], path


async def test_binance_real_forceorder_payloads_match_the_dataset(app: App, ws: LiquidationWsServer) -> None:
    """The 31 captured BTCUSDT ``forceOrder`` events, pushed as Binance sends them, are stored exactly as the
    dataset's ``liquidations.csv`` holds them (order side SELL = long; price = average fill; amount = filled
    quantity ``z``, not ccxt's last fill ``l``), and marked lower bounds (the feed is throttled)."""
    frames, path = forceorder_frames()
    await listening(app, ws, "binanceusdm")
    for frame in frames:
        await ws.push("binanceusdm", frame)
    await until(lambda: len(rows(app, "binanceusdm")) == len(frames))
    got = rows(app, "binanceusdm")
    table = np.genfromtxt(path / "liquidations.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert [r.ts for r in got] == [int(t) for t in table["timestamp"]]
    assert [r.side for r in got] == [str(s) for s in table["side"]]
    assert [r.price for r in got] == pytest.approx([float(p) for p in table["price"]])
    assert [r.amount for r in got] == pytest.approx([float(a) for a in table["amount"]])
    assert all(r.lower_bound for r in got)
    prints = load_prints(app.db, SYMBOL, 0, 2**62)
    assert prints.lower_bound and prints.exchanges == ("binanceusdm",)
    assert prints.totals()[0] == pytest.approx(sum(r.usd for r in got if r.side == "long"))


async def test_reconnects_after_a_dropped_connection_and_drops_repeats(app: App, ws: LiquidationWsServer) -> None:
    await listening(app, ws, "bybit")
    first = bybit_frame([bybit_event(NOW - 5000, "Sell", "2", "63000")])
    await ws.push("bybit", first)
    await until(lambda: len(rows(app, "bybit")) == 1)
    await ws.drop("bybit")
    await ws.subscribed("bybit", times=2)  # the watcher backed off, reconnected and subscribed again by itself
    assert ws.connects["bybit"] == 2
    await ws.push("bybit", first)  # a repeat after the reconnect: not stored twice
    await ws.push("bybit", bybit_frame([bybit_event(NOW - 10, "Buy", "0.1", "62000")]))
    await until(lambda: len(rows(app, "bybit")) == 2)
    assert [r.side for r in rows(app, "bybit")] == ["short", "long"]
    assert app.metrics.registry.get_sample_value(
        "liqmap_liquidation_stream_reconnects_total", {"exchange": "bybit"}) == 1
    assert app.metrics.registry.get_sample_value("liqmap_liquidations_stored_total", {"exchange": "bybit"}) == 2


@pytest.mark.parametrize("exchange", ["bybit", "okx", "binanceusdm"])
async def test_malformed_frames_are_skipped_and_the_connection_keeps_working(
    app: App, ws: LiquidationWsServer, exchange: str
) -> None:
    """Truncated JSON, a wrong structure and unusable fields are logged and skipped; the next good frame on the
    SAME connection is stored (ccxt alone would stop reading the connection after the first)."""
    await listening(app, ws, exchange)
    bad: list[object] = ['{"topic": "allLiq', "[1, 2", "not json at all"]
    if exchange == "bybit":
        bad += [{"topic": "allLiquidation.BTCUSDT", "data": ["x", None]},
                bybit_frame([bybit_event(NOW, "Sideways", "1", "63000")]),
                bybit_frame([bybit_event(NOW, "Buy", "-1", "63000")])]
        good: object = bybit_frame([bybit_event(NOW, "Buy", "0.3", "63000")])
    elif exchange == "okx":
        bad += [{"arg": {"channel": "liquidation-orders"}, "data": [{"details": "bad"}]},
                okx_frame(NOW, "sell", "long", "abc", "63000")]
        good = okx_frame(NOW, "sell", "long", "30", "63000")
    else:
        bad += [{"e": "forceOrder", "o": "zz"},
                {"e": "forceOrder", "E": NOW, "o": {"s": "BTCUSDT", "S": "SELL", "ap": "NaN", "z": "1", "T": NOW}}]
        good = {"e": "forceOrder", "E": NOW, "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.3",
                                                   "p": "62800", "ap": "63000", "X": "FILLED", "l": "0.1",
                                                   "z": "0.3", "T": NOW}}
    for frame in bad:
        await ws.push(exchange, frame)
    await ws.push(exchange, good)
    await until(lambda: len(rows(app, exchange)) == 1)
    [row] = rows(app, exchange)
    assert (row.side, row.amount, row.price) == ("long", pytest.approx(0.3), 63000.0)
    assert ws.connects[exchange] == 1  # never needed a reconnect


async def test_feeds_down_never_block_the_periodic_job(tmp_path: Path, rest: ExchangeServer) -> None:
    """Every liquidation websocket refused: the watcher keeps backing off in its own tasks while the job ticks,
    alerts and its maps simply carry no prints yet (an empty record, the feed being configured)."""
    options = live_options(rest, LiquidationWsServer(port=closed_port()))
    app = await shipped_app(shipped_settings(tmp_path, rest, exchange_options=options), rest)
    try:
        assert app.liquidations is not None
        app.liquidations.start()
        await until(lambda: all(app.metrics.registry.get_sample_value(
            "liqmap_liquidation_stream_reconnects_total", {"exchange": e}) for e in ALL))
        report = await app.job.tick()
        assert report.ran and report.ok
        m = (await app.engine.compute(SYMBOL, "24h", at_ms=NOW)).map
        assert m.prints is not None and m.prints.n == 0
    finally:
        await app.close()
    assert count_events(app.db) == 0


async def test_run_until_stopped_listens_and_stops_cleanly(app: App, ws: LiquidationWsServer) -> None:
    """What ``liqmap run`` runs: the job, the dispatcher, the self-score and the feeds together until stopped."""
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_stopped(app, stop))
    for ex in ALL:
        await ws.subscribed(ex)
    await ws.push("okx", okx_frame(NOW - 100, "buy", "short", "100", "64000"))
    await until(lambda: len(rows(app, "okx")) == 1)
    stop.set()
    assert await asyncio.wait_for(running, 30) == 0
    await app.close()  # as run_app's finally does: the feeds' connections close
    await until(lambda: all(not ws._open[e] for e in ALL))
