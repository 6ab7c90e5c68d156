"""/risk on the live market source (ccxt against the local exchange stand-in): the service asks the exchange for its
tier table through the source, and falls back to the bundled Binance table (saying so) when the exchange refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.chat.reply import ChatRef
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.ccxt_source import CcxtSource
from bot.storage.db import Database
from tests.alerts.helpers import Clock, settings
from tests.conftest_db import _sqlite_template, sqlite_url  # noqa: F401
from tests.market.conftest import NO_WAIT, NOW
from tests.standins.exchange_server import DAY, ExchangeServer, Tape

CHAT = ChatRef("telegram", "77")


@pytest.fixture
def risk_db(sqlite_url: str) -> Iterator[Database]:  # noqa: F811
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
async def stand_in() -> AsyncIterator[ExchangeServer]:
    async with ExchangeServer(Tape(start_ms=NOW - 3 * DAY, now_ms=NOW)) as server:
        yield server


def test_the_source_still_has_what_the_risk_check_reads() -> None:
    # bot.chat.risk finds the ccxt source's cached tiers by this name; a rename would silently lose live tiers.
    assert callable(getattr(CcxtSource, "leverage_tiers", None))


async def test_risk_asks_the_exchange_for_tiers_and_falls_back_to_the_bundled_table(
        stand_in: ExchangeServer, risk_db: Database) -> None:
    source = CcxtSource(("binanceusdm",), api_keys={"binanceusdm": "k"}, api_secrets={"binanceusdm": "s"},
                        exchange_factory=stand_in.factory, clock=lambda: stand_in.tape.now_ms, retry=NO_WAIT,
                        options={"binanceusdm": {"options": {"fetchCurrencies": False}}})  # no wallet endpoints
    clock = Clock(NOW)
    service = ChatService(risk_db, MapEngine(source, clock=clock), settings(), clock=clock)
    try:
        reply = await service.risk(CHAT, "long 62000 20x")
    finally:
        await source.close()
    assert not reply.error, reply.text
    assert stand_in.requests("binanceusdm", "/leverageBracket")  # the source asked (key set); the stand-in says 401
    assert "Liquidation price: 59,136.55" in reply.text and "(bundled)" in reply.text
    assert "SYNTHETIC" not in reply.text and reply.png is not None
