"""/risk and position alerts through the shipped wiring: ``build_app`` (what ``liqmap run`` runs) with production
defaults (stored-data wrapper over ccxt, 60 s ticks, 30 min cooldowns), ccxt pointed at the exchange stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.model.risk import Position, liq_price
from tests.market.conftest import NOW
from tests.reliability.faulty_exchange import FaultyExchangeServer
from tests.reliability.helpers import alerts
from tests.reliability.shipped import chat, running_app
from tests.standins.exchange_server import DAY, MIN, Tape


@pytest.fixture
async def server() -> AsyncIterator[FaultyExchangeServer]:
    async with FaultyExchangeServer(Tape(start_ms=NOW - 3 * DAY, now_ms=NOW)) as standin:
        yield standin


@pytest.fixture
async def app(tmp_path: Path, server: FaultyExchangeServer) -> AsyncIterator[App]:
    async with running_app(tmp_path, server) as application:
        yield application


async def test_risk_on_the_shipped_app(app: App) -> None:
    reply = await app.service.risk(chat(1), "long 62000 20x")
    assert not reply.error, reply.text
    assert "Liquidation price: 59,136.55" in reply.text and "binanceusdm, isolated margin" in reply.text
    assert "(bundled)" in reply.text and "SYNTHETIC" not in reply.text  # Binance's tiers need a key
    assert reply.png is not None and reply.png.startswith(b"\x89PNG")
    bad = await app.service.risk(chat(1), "long 62000 60x 5M")
    assert bad.error and bad.text.startswith("60x is above binanceusdm's maximum of 50x for a $5M position")


async def test_risk_on_bybit_uses_bybits_formula_and_its_live_risk_limits(app: App,
                                                                          server: FaultyExchangeServer) -> None:
    """Bybit's published USDT formula, LP = EP ∓ (IM − MM) / Q with MM = size × MMR − deduction, with the risk-limit
    tier ccxt read from the stand-in's Bybit reply: $3M at 20x is tier 2 (MMR 0.75 %, deduction $5,000)."""
    reply = await app.service.risk(chat(3), "long 62000 20x 3M bybit")
    assert not reply.error, reply.text
    q, im, mm = 3e6 / 62000, 3e6 / 20, 3e6 * 0.0075 - 5000
    assert f"Liquidation price: {62000 - (im - mm) / q:,.2f} (Bybit formula; MMR 0.75%" in reply.text
    assert "bybit, isolated margin" in reply.text
    assert any(r.path.endswith("/v5/market/risk-limit") for r in server.log if r.exchange == "bybit")
    short = await app.service.risk(chat(3), "short 62000 50x 20k bybit")
    assert "Liquidation price: 62,930.00 (Bybit formula; MMR 0.50%" in short.text  # 62000 × (1 + 1/50 − 0.005)


async def test_position_alert_near_its_level_fires_once_from_the_shipped_job(app: App,
                                                                             server: FaultyExchangeServer) -> None:
    price = (await app.engine.current("BTC/USDT:USDT", "24h")).map.price
    entry = round(price * 1.005)  # long 50x from just above price: the level sits ~1.5% below price
    level = liq_price(Position(1, float(entry), 50.0, 10_000.0))
    assert 0 < (price - level) / price * 100 < 2.0
    added = await app.service.alert_position(chat(2), f"long {entry} 50x 2%")
    assert not added.error, added.text
    assert (await app.job.tick()).alerts_queued == 1
    [alert] = alerts(app.db)
    assert alert.cluster_id == "liq" and "from your liquidation price" in alert.text
    server.tape.now_ms = NOW + 5 * MIN  # the next tick, well inside the 30 min cooldown
    assert (await app.job.tick()).alerts_queued == 0
    assert await app.service.alert_png(alert) is not None


async def test_a_position_alert_watches_the_level_its_reply_named(app: App) -> None:
    """Bybit's live risk limits differ from the bundled table (here its first tier's MMR is 0.6 %, not 0.5 %): the
    position alert stores the level its reply named, from the live tiers, and the job and image read that one."""
    from bot.alerts.position import position_of, sub_liq_price
    from bot.chat.risk import RISK_WINDOW
    from bot.model.risk import BYBIT_BTCUSDT_TIERS
    from bot.storage import subscriptions
    from tests.standins import exchange_server

    table = exchange_server.fixture("bybit_risk_limit_btcusdt.json")
    table["result"]["list"][0]["maintenanceMargin"] = "0.006"
    route = ("bybit", "/v5/market/risk-limit")
    saved = exchange_server.ROUTES[route]
    exchange_server.ROUTES[route] = lambda tape, q: (200, table)
    try:
        added = await app.service.alert_position(chat(5), "long 62000 20x 1M bybit 2%")
    finally:
        exchange_server.ROUTES[route] = saved
    assert not added.error, added.text
    live = 62000 - (1e6 / 20 - 1e6 * 0.006) / (1e6 / 62000)  # EP − (IM − MM) / Q with the live MMR
    assert f"{live:,.2f}" in added.text
    with app.db.session() as s:
        [sub] = subscriptions.subscriptions_for(s, "BTC/USDT:USDT", RISK_WINDOW, kind="position")
    assert sub.liq_price == pytest.approx(live) and sub_liq_price(sub) == pytest.approx(live)
    assert liq_price(position_of(sub), BYBIT_BTCUSDT_TIERS) != pytest.approx(live, abs=1.0)  # the bundled level
