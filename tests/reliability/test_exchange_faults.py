"""Exchange faults through the exchange stand-in, the real CcxtSource (ccxt's own request/parse code), MapEngine and
AlertJob. Each case compares the outbox with the alerts a healthy run over the same good data queues: nothing lost,
nothing twice, nothing from bad or stale data."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.alerts.job import AlertJob, TickReport
from bot.chat.reply import ChatRef
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.source import MarketSource
from bot.market.stored_source import StoredSource
from bot.storage.db import Database
from tests.alerts.helpers import settings
from tests.market.conftest import NOW, source_for
from tests.reliability.faulty_exchange import MODES, FaultyExchangeServer
from tests.reliability.helpers import keys, subscribe
from tests.standins import exchange_server
from tests.standins.exchange_server import MIN

ALL = ("binanceusdm", "bybit", "okx")


@pytest.fixture
def db2(tmp_path: Path, _sqlite_template: Path) -> Iterator[Database]:
    """A second migrated SQLite database (for the healthy reference run)."""
    path = tmp_path / "reference.db"
    shutil.copyfile(_sqlite_template, path)
    database = Database(f"sqlite:///{path.as_posix()}")
    yield database
    database.dispose()


@pytest.fixture
def sdb(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


def job_on(db: Database, server: FaultyExchangeServer, source: MarketSource) -> AlertJob:
    return AlertJob(db, MapEngine(source), settings(), lambda: server.tape.now_ms, holder="job-rel")


async def tick(db: Database, server: FaultyExchangeServer, *exchanges: str, stored: bool = False) -> TickReport:
    """One tick of a fresh job on a fresh CcxtSource (optionally wrapped in StoredSource) over ``exchanges``."""
    ccxt_source = source_for(server, *exchanges)
    source: MarketSource = StoredSource(ccxt_source, db) if stored else ccxt_source
    try:
        return await job_on(db, server, source).tick()
    finally:
        await ccxt_source.close()


async def reference_keys(db2: Database, server: FaultyExchangeServer, *exchanges: str, n: int = 5) -> Counter[str]:
    """The alerts a healthy run over only ``exchanges`` queues for ``n`` fresh wide subscriptions."""
    subscribe(db2, n)
    report = await tick(db2, server, *exchanges)
    assert report.alerts_queued == n, report  # every wide subscription alerts once: the cases below can fail
    return keys(db2)


async def test_outage_of_one_exchange_the_others_still_alert(
    sdb: Database, db2: Database, server: FaultyExchangeServer
) -> None:
    expected = await reference_keys(db2, server, "binanceusdm", "okx")
    subscribe(sdb, 5)
    server.fail("bybit", 503)  # down for good
    report = await tick(sdb, server, *ALL)
    [st] = report.keys
    assert st.exchanges == ("binanceusdm", "okx") and st.missing_exchanges == ("bybit",) and st.fresh
    assert keys(sdb) == expected  # the same alerts as two healthy exchanges give: none lost, none twice, none false


async def test_failed_exchange_with_stored_history_is_left_out_and_rejoins(
    sdb: Database, server: FaultyExchangeServer
) -> None:
    first = subscribe(sdb, 3, cooldown_s=1800)
    assert (await tick(sdb, server, *ALL, stored=True)).alerts_queued == 3
    before = keys(sdb)
    server.fail("bybit", 503)
    server.tape.now_ms += 10 * MIN
    late = subscribe(sdb, 3, first_chat=2000, cooldown_s=1800)  # the others' fresh data alerts them at once
    job = job_on(sdb, server, StoredSource(source_for(server, *ALL), sdb))
    report = await job.tick()
    [st] = report.keys
    assert st.exchanges == ("binanceusdm", "okx") and st.missing_exchanges == ("bybit",) and st.fresh
    after_outage = keys(sdb) - before
    assert {int(k.split(":")[0]) for k in after_outage} == set(late) and set(after_outage.values()) == {1}
    service = ChatService(sdb, job.engine, settings(), job=job, clock=lambda: server.tape.now_ms)
    status = (await service.status(ChatRef("telegram", "1000", "private"))).text
    assert "missing (down or stale, left out of the map): bybit" in status
    server.failures.clear()
    server.tape.now_ms += MIN
    report = await job.tick()
    assert report.keys[0].fresh and report.keys[0].exchanges == ALL  # rejoined by itself
    await job.engine.source.close()
    assert {int(k.split(":")[0]) for k in before} == set(first)
    assert set(keys(sdb).values()) == {1}  # nothing twice


async def test_rate_limited_exchange_is_retried_and_alerts_like_a_healthy_one(
    sdb: Database, db2: Database, server: FaultyExchangeServer
) -> None:
    expected = await reference_keys(db2, server, *ALL)
    subscribe(sdb, 5)
    server.log.clear()
    server.fail("okx", 429, times=3)
    server.fail("binanceusdm", 429, times=2)
    report = await tick(sdb, server, *ALL)
    [st] = report.keys
    assert st.exchanges == ALL and st.fresh and not st.missing_exchanges
    assert keys(sdb) == expected
    assert len(server.requests("okx", "/instruments")) >= 4  # 3 answered 429, then retried to success


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_candles_fail_that_exchange_cleanly(
    sdb: Database, db2: Database, server: FaultyExchangeServer, mode: str
) -> None:
    expected = await reference_keys(db2, server, "binanceusdm", "okx")
    subscribe(sdb, 5)
    server.garble("bybit", "/kline", mode)
    ccxt_source = source_for(server, *ALL)
    engine = MapEngine(ccxt_source)
    try:
        result = await engine.compute("BTC/USDT:USDT", "24h", at_ms=NOW)
        report = await AlertJob(sdb, engine, settings(), lambda: NOW, holder="j").tick()
    finally:
        await ccxt_source.close()
    bybit = next(f for f in result.freshness if f.exchange == "bybit")
    assert not bybit.ok and bybit.error and "\n" not in bybit.error, bybit
    assert bybit.error.startswith(("BadResponse", "ExchangeError", "BadRequest")), bybit.error
    [st] = report.keys
    assert st.missing_exchanges == ("bybit",) and st.exchanges == ("binanceusdm", "okx")
    assert keys(sdb) == expected


async def test_symbol_delisted_mid_run_is_reported_and_other_keys_continue(
    sdb: Database, server: FaultyExchangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(sdb, 2)
    subscribe(sdb, 2, first_chat=3000, window="12h")
    ccxt_source = source_for(server, *ALL)
    job = job_on(sdb, server, ccxt_source)
    try:
        first = await job.tick()
        assert [(k.window, k.exchanges, k.fresh) for k in first.keys] == [("12h", ALL, True), ("24h", ALL, True)]
        before = keys(sdb)
        assert first.alerts_queued == len(before) == 4
        monkeypatch.setitem(exchange_server.KNOWN_SYMBOLS, "okx", set())  # BTC-USDT-SWAP delisted on OKX
        server.tape.now_ms += 5 * MIN  # a new 5m candle closed: the tail is fetched
        late = subscribe(sdb, 2, first_chat=4000) + subscribe(sdb, 2, first_chat=5000, window="12h")
        result = await job.engine.compute("BTC/USDT:USDT", "24h", at_ms=server.tape.now_ms)
        second = await job.tick()
    finally:
        await ccxt_source.close()
    [okx] = [f for f in result.freshness if f.exchange == "okx"]
    assert not okx.ok and okx.error.startswith("BadSymbol"), okx.error
    for st in second.keys:  # reported as missing; the two other exchanges go on for every key
        assert st.missing_exchanges == ("okx",) and st.exchanges == ("binanceusdm", "bybit") and st.fresh
    new = keys(sdb) - before
    assert {int(k.split(":")[0]) for k in new} >= set(late) and set(new.values()) == {1}
