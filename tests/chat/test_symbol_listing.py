"""Made-up symbols on live data: the real ChatService (production defaults) over the production source chain
(``StoredSource`` around ``CcxtSource``) with ccxt pointed at the local exchange stand-in. A symbol that no
configured exchange lists is answered from the market lists alone: no history request, no map, nothing kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.reply import ChatRef
from bot.chat.service import SORRY, ChatService
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.ccxt_source import CcxtSource
from bot.market.replay import write_dataset
from bot.market.sim import synthetic_series
from bot.market.source import ReplaySource, SimSource, is_listed
from bot.market.stored_source import StoredSource
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.market.conftest import NO_WAIT, NOW
from tests.standins.exchange_server import DAY, ExchangeServer, Tape

EXCHANGES = ("binanceusdm", "bybit", "okx")
MARKET_LISTS = ("/exchangeInfo", "instruments-info", "/instruments")  # what load_markets asks for


@pytest.fixture
async def live() -> AsyncIterator[ExchangeServer]:
    """The stand-in with history up to ``NOW`` (the engine's and the service's clock is the stand-in's "now")."""
    async with ExchangeServer(Tape(start_ms=NOW - 10 * DAY, now_ms=NOW)) as server:
        yield server


def ccxt_on(server: ExchangeServer, *exchanges: str) -> CcxtSource:
    return CcxtSource(exchanges or EXCHANGES, exchange_factory=server.factory, clock=lambda: server.tape.now_ms,
                      retry=NO_WAIT)


def live_service(db: Database, server: ExchangeServer) -> ChatService:
    """ChatService with every default, over StoredSource(CcxtSource) as ``run_app`` wires them."""
    settings = Settings(source="ccxt", _env_file=None)  # type: ignore[call-arg]
    clock = lambda: server.tape.now_ms  # noqa: E731
    return ChatService(db, MapEngine(StoredSource(ccxt_on(server), db), clock=clock), settings, clock=clock)


def history_requests(server: ExchangeServer) -> list[str]:
    return [f"{r.exchange}{r.path}" for r in server.log if not r.path.endswith(MARKET_LISTS)]


async def test_made_up_symbols_never_reach_the_engine(db: Database, live: ExchangeServer) -> None:
    svc = live_service(db, live)
    try:
        for i in range(45):
            chat = ChatRef("telegram", str(500 + i))
            sym = f"Z{i:02d}FAKE"
            for reply in (await svc.levels(chat, sym), await svc.liqmap(chat, sym, "24h")):
                assert reply.error and reply.text == f"unknown symbol {sym}USDT: not listed on binanceusdm, bybit, okx"
            added = await svc.alert_add(chat, f"{sym}USD 1%")
            assert added.error and added.text == f"unknown symbol {sym}USD: not listed on binanceusdm, bybit, okx"
        # ETH is a real coin, but not listed on these (stand-in) exchanges
        assert (await svc.levels(ChatRef("telegram", "9"), "ETH")).text.startswith("unknown symbol ETHUSDT")
        assert history_requests(live) == []  # only the market lists were asked for, once per exchange
        assert sorted({r.exchange for r in live.log}) == list(EXCHANGES)
        assert len(live.log) <= 2 * len(EXCHANGES)  # bybit lists linear and inverse markets separately
        assert len(svc.engine._current) == 0 and len(svc.engine._locks) == 0
        with db.session() as s:
            found = [chats.find_chat(s, "telegram", str(500 + i)) for i in range(45)]
            assert all(not subscriptions.list_subscriptions(s, c.id) for c in found if c is not None)

        ok = await svc.levels(ChatRef("telegram", "10"), "BTC", "24h")  # listed: computed from live history
        assert not ok.error and ok.text != SORRY, ok.text
        assert history_requests(live) and len(svc.engine._current) == 1
        inverse = await svc.alert_add(ChatRef("telegram", "10"), "BTCUSD 1%")  # listed on bybit only: accepted
        assert not inverse.error, inverse.text
    finally:
        await svc.engine.source.close()


async def test_ccxt_supports_answers_from_the_market_lists(live: ExchangeServer) -> None:
    source = ccxt_on(live)
    try:
        assert await source.supports("BTC/USDT:USDT")
        assert await source.supports("BTC/USD:BTC")  # bybit's inverse perpetual
        assert not await source.supports("ETH/USDT:USDT")
        assert not await source.supports("NOPE/USDT:USDT")
        assert history_requests(live) == []
    finally:
        await source.close()


async def test_an_unreachable_exchange_never_makes_a_real_symbol_unknown(live: ExchangeServer) -> None:
    live.refused.add("okx")
    okx_down = ccxt_on(live, "okx")
    live.refused.update(EXCHANGES)
    all_down = ccxt_on(live)
    try:
        assert await okx_down.supports("BTC/USDT:USDT")  # cannot tell: the load reports the outage instead
        assert await all_down.supports("ANY/USDT:USDT")
    finally:
        await okx_down.close()
        await all_down.close()


async def test_sim_and_replay_answer_from_what_they_hold(db: Database, tmp_path: Path) -> None:
    sim = SimSource(EXCHANGES)
    assert await sim.supports("BTC/USDT:USDT") and await sim.supports("ETH/USD:ETH")
    assert not await sim.supports("DOGE/USDT:USDT") and not await sim.supports("not a symbol")
    assert await is_listed(StoredSource(sim, db), "BTC/USDC:USDC")  # a wrapper answers for what it wraps
    assert not await is_listed(StoredSource(sim, db), "DOGE/USDT:USDT")
    assert await is_listed(object(), "ANYTHING")  # a source that cannot tell lets the load decide

    now = 1_780_000_000_000
    write_dataset(synthetic_series("okx", "BTC/USDT:USDT", "1h", now, 48, 7), tmp_path / "ds", "test")
    replay = ReplaySource(tmp_path / "ds")
    assert await replay.supports("BTCUSDT") and await replay.supports("BTC/USDT:USDT")
    assert not await replay.supports("BTC/USD:BTC") and not await replay.supports("ETH/USDT:USDT")
