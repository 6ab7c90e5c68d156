"""Confirmed sweeps: when price trades through an alerted zone, the shipped job's sweep follow-up says how much the
exchanges' feeds really recorded there since the alert ("no liquidations recorded" when they saw none, nothing at all
without a feed). The events arrive through the real watcher (ccxt.pro against the websocket stand-in)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.alerts.messages import sweep_confirmation
from bot.app import App
from bot.format import fmt_range, fmt_usd
from bot.model.context import LiquidationPrints
from bot.storage import cluster_state, outbox, snapshots
from bot.storage.db import Database
from bot.storage.liquidations import count_events
from bot.storage.records import ClusterStateRec
from tests.alerts.helpers import add_sub
from tests.liquidations.conftest import until
from tests.market.conftest import NOW
from tests.reliability.shipped import shipped_app, shipped_settings
from tests.standins.exchange_server import MIN, ExchangeServer
from tests.standins.liquidation_ws import LiquidationWsServer, bybit_event, bybit_frame, okx_frame

SYMBOL = "BTC/USDT:USDT"
ALERTED_AT = NOW - 20 * MIN


def forceorder(ts: int) -> dict[str, object]:
    """A Binance ``forceOrder`` push: a short liquidated (a BUY) of 0.01 BTC at 1,000 USD, far from any zone."""
    return {"e": "forceOrder", "E": ts, "o": {"s": "BTCUSDT", "S": "BUY", "o": "LIMIT", "f": "IOC", "q": "0.01",
                                              "p": "1000", "ap": "1000", "X": "FILLED", "l": "0.01", "z": "0.01",
                                              "T": ts}}


def sweeps(db: Database) -> list[str]:
    with db.session() as s:
        return [a.text for a in outbox.list_alerts(s) if a.kind == "sweep"]


async def alerted_zone_above(app: App) -> tuple[float, float]:
    """One tick, then a long zone just above the price the subscription was alerted about 20 min ago (price has
    since fallen through it): returns the zone (low, high) USD."""
    sub = add_sub(app.db)
    await app.job.tick()
    with app.db.session() as s:
        snap = snapshots.latest_snapshot(s, SYMBOL, "24h")
    assert snap is not None
    low, high = snap.price * 1.004, snap.price * 1.006
    with app.db.session() as s:
        cluster_state.save_states(s, [ClusterStateRec(sub.id, "L-gone", "long", armed=False,
                                                      last_alert_at=ALERTED_AT, alerted_low=low, alerted_high=high,
                                                      alerted_usd=50e6)])
    return low, high


async def listening_before_the_alert(app: App, rest: ExchangeServer, ws: LiquidationWsServer) -> None:
    """Start the feeds at a time before the zone was alerted and let every one of them deliver (a print far from
    the zone), so they are complete from before the alert; then back to now."""
    assert app.liquidations is not None
    rest.tape.now_ms = ALERTED_AT - 3 * MIN
    app.liquidations.start()
    before = count_events(app.db)
    for exchange in app.liquidations.exchanges:
        await ws.subscribed(exchange)
    for exchange, frame in (("bybit", bybit_frame([bybit_event(ALERTED_AT - 3 * MIN, "Sell", "0.01", "1000")])),
                            ("okx", okx_frame(ALERTED_AT - 3 * MIN, "buy", "short", "1", "1000")),
                            ("binanceusdm", forceorder(ALERTED_AT - 3 * MIN))):
        await ws.push(exchange, frame)
    await until(lambda: count_events(app.db) == before + 3)
    assert app.liquidations.complete_since() == ALERTED_AT - 3 * MIN
    rest.tape.now_ms = NOW


async def test_sweep_says_how_much_was_really_liquidated(app: App, rest: ExchangeServer,
                                                         ws: LiquidationWsServer) -> None:
    low, high = await alerted_zone_above(app)
    mid = (low + high) / 2
    await listening_before_the_alert(app, rest, ws)
    await ws.push("bybit", bybit_frame([
        bybit_event(NOW - 14 * MIN, "Buy", "10", f"{mid:.1f}"),  # long, in the zone: counted
        bybit_event(NOW - 1 * MIN, "Buy", "5", f"{low + 1:.1f}"),  # long, in the zone: counted
        bybit_event(NOW - 2 * MIN, "Sell", "100", f"{mid:.1f}"),  # a short: not this zone's side
        bybit_event(NOW - 3 * MIN, "Buy", "100", f"{high * 1.05:.1f}"),  # far outside the zone
        bybit_event(ALERTED_AT - MIN, "Buy", "100", f"{mid:.1f}"),  # before the alert
    ]))
    await until(lambda: count_events(app.db) == 3 + 5)
    rest.tape.now_ms = NOW + MIN
    await app.job.tick()
    [text] = sweeps(app.db)
    usd = 10 * float(f"{mid:.1f}") + 5 * float(f"{low + 1:.1f}")
    assert "fell through" in text
    # "at least": Binance's feed is throttled (one per symbol per second), so totals with it are lower bounds
    assert (f"Zone {fmt_range(low, high)} swept: at least {fmt_usd(usd)} of longs liquidated in 13 min (recorded: "
            "binanceusdm, bybit, okx)") in text


async def test_sweep_without_recorded_liquidations_says_so(app: App, rest: ExchangeServer,
                                                           ws: LiquidationWsServer) -> None:
    await alerted_zone_above(app)
    await listening_before_the_alert(app, rest, ws)  # the feeds ran all along but recorded nothing in the zone
    rest.tape.now_ms = NOW + MIN
    await app.job.tick()
    [text] = sweeps(app.db)
    assert "swept: no liquidations recorded" in text


async def test_a_feed_that_started_after_the_alert_claims_no_absence(app: App, rest: ExchangeServer,
                                                                     ws: LiquidationWsServer) -> None:
    """The feeds came up after the zone was alerted (a restart, an outage): nothing recorded proves nothing, so the
    follow-up says nothing about it; what was recorded is a lower bound ("at least")."""
    low, high = await alerted_zone_above(app)
    assert app.liquidations is not None
    app.liquidations.start()
    await ws.subscribed("bybit")
    rest.tape.now_ms = NOW + MIN
    await app.job.tick()
    [text] = sweeps(app.db)
    assert "swept" not in text and "recorded" not in text
    mid = (low + high) / 2
    await ws.push("bybit", bybit_frame([bybit_event(NOW - 5 * MIN, "Buy", "10", f"{mid:.1f}")]))
    await until(lambda: count_events(app.db) == 1)
    prints = (await app.engine.compute(SYMBOL, "24h", at_ms=NOW + MIN)).map.prints
    assert prints is not None and not prints.complete_after(ALERTED_AT)
    line = sweep_confirmation(prints, side="long", low=low, high=high, since_ms=ALERTED_AT, until_ms=NOW + MIN)
    assert line is not None and "swept: at least $" in line


async def test_sweep_without_a_feed_says_nothing_about_it(tmp_path: Path, rest: ExchangeServer) -> None:
    """Live data with the streams turned off (LIQMAP_LIQUIDATION_STREAMS=false): the map has no prints, and the
    sweep follow-up says nothing about recorded liquidations."""
    settings = shipped_settings(tmp_path, rest, liquidation_streams=False)
    app = await shipped_app(settings, rest)
    try:
        assert app.liquidations is None
        await alerted_zone_above(app)
        rest.tape.now_ms = NOW + MIN
        await app.job.tick()
        texts = sweeps(app.db)
    finally:
        await app.close()
    assert len(texts) == 1 and "swept" not in texts[0] and "recorded" not in texts[0]


def test_confirmation_wording() -> None:
    """Throttled feeds give lower bounds ("at least"); the zone's side and prices (± slack) and the interval count;
    no feed says nothing."""
    p = LiquidationPrints(
        time_ms=np.array([NOW - 30 * MIN, NOW - 20 * MIN, NOW - 5 * MIN, NOW - 4 * MIN], dtype=np.int64),
        price=np.array([64_100.0, 64_650.0, 64_730.0, 64_300.0]),
        usd=np.array([20e6, 18e6, 5e6, 7e6]),
        is_long=np.array([False, False, False, True]),
        exchanges=("binanceusdm", "bybit"), lower_bound=True,
    )
    line = sweep_confirmation(p, side="short", low=64_000.0, high=64_700.0, since_ms=NOW - 40 * MIN, until_ms=NOW,
                              slack=50.0)
    assert line == ("Zone 64.0k–64.7k swept: at least $43M of shorts liquidated in 25 min "
                    "(recorded: binanceusdm, bybit)")
    late = sweep_confirmation(p, side="short", low=64_000.0, high=64_700.0, since_ms=NOW - 25 * MIN, until_ms=NOW)
    assert late == "Zone 64.0k–64.7k swept: at least $18M of shorts liquidated in 1 min (recorded: binanceusdm, bybit)"
    assert sweep_confirmation(p, side="long", low=60_000.0, high=61_000.0, since_ms=0, until_ms=NOW) == (
        "Zone 60.0k–61.0k swept: no liquidations recorded")
    assert sweep_confirmation(None, side="long", low=1.0, high=2.0, since_ms=0, until_ms=NOW) is None
