"""Context beside the map, on the shipped path: the app ``build_app`` makes from user settings (ccxt pointed at the
exchange stand-in through ``LIQMAP_EXCHANGE_OPTIONS``) answers ``/liqmap`` and ``/levels`` with one context line
and Discord fields whose figures are the stand-in's own: open interest summed over the exchanges and its change over
the window, the last settled funding per exchange with the predicted next one, and the account long/short ratio
read by ccxt's ``fetchLongShortRatioHistory``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.chat.context_text import context_line
from tests.market.conftest import NOW
from tests.reliability.faulty_exchange import FaultyExchangeServer
from tests.reliability.shipped import ALL, chat, running_app
from tests.standins.exchange_server import DAY, FUNDING_EVERY, HOUR, ExchangeServer, Tape

SYMBOL = "BTC/USDT:USDT"
RATIO_STEP = 5 * 60_000


@pytest.fixture
async def server() -> AsyncIterator[FaultyExchangeServer]:
    async with FaultyExchangeServer(Tape(start_ms=NOW - 3 * DAY, now_ms=NOW)) as s:
        yield s


@pytest.fixture
async def app(tmp_path: Path, server: ExchangeServer) -> AsyncIterator[App]:
    async with running_app(tmp_path, server) as application:
        yield application


def oi_usd(tape: Tape, t: int) -> float:
    """The USD open interest the stand-in reports at ``t`` (every exchange serves the same BTC amount)."""
    return tape.oi_btc(t) * tape.price(t)


async def test_liqmap_caption_fields_and_json_carry_the_exchanges_own_figures(app: App, server: ExchangeServer) -> None:
    tape = server.tape
    reply = await app.service.liqmap(chat(1), "BTC", "24h")
    assert not reply.error and reply.png is not None, reply.text
    m = (await app.service.map_for(SYMBOL, "24h"))[0].map
    ctx = m.context
    assert ctx is not None and [c.exchange for c in ctx.exchanges] == list(ALL)
    now_oi = oi_usd(tape, NOW // HOUR * HOUR)  # the coarsest OI cadence (hourly) has a sample on the hour
    for c in ctx.exchanges:
        assert c.oi_usd == pytest.approx(oi_usd(tape, NOW), rel=2e-3) or c.oi_usd == pytest.approx(now_oi, rel=2e-3)
        last_settled = NOW // FUNDING_EVERY * FUNDING_EVERY
        assert c.funding_rate == pytest.approx(float(tape.funding(last_settled)))
        assert c.funding_interval_h == 8
        assert c.long_short_ratio == pytest.approx(tape.long_short(NOW // RATIO_STEP * RATIO_STEP), rel=1e-3)
    predicted = {c.exchange: c.predicted_funding_rate for c in ctx.exchanges}
    assert predicted["binanceusdm"] == pytest.approx(float(tape.predicted_funding()))
    assert predicted["okx"] == pytest.approx(float(tape.predicted_funding()))
    total = ctx.total
    assert total.oi_usd == pytest.approx(sum(c.oi_usd or 0 for c in ctx.exchanges))
    then = [oi_usd(tape, NOW - DAY)] * 3
    assert total.oi_change_pct == pytest.approx((total.oi_usd / sum(then) - 1) * 100, abs=0.3)
    line = context_line(ctx)
    assert line is not None and line in reply.text
    assert line.startswith("OI $") and "24h)" in line and "funding +0.0" in line and "(8h" in line and "L/S 1." in line
    assert ("liquidated 24h: longs $" in line) == (total.realized_long_usd is not None)
    levels = await app.service.levels(chat(1), "BTC", "24h")
    assert line in levels.text
    names = [name for name, _ in reply.fields]
    assert names[:3] == ["Open interest", "Funding", "Long/short accounts"], reply.fields
    assert ("Liquidated 24h" in names) == (total.realized_long_usd is not None)
    funding_rows = dict(reply.fields)["Funding"].splitlines()
    assert [r.split()[0] for r in funding_rows] == list(ALL) and all("%/yr" in r for r in funding_rows)
    js = m.to_json()["context"]
    assert js["total"]["oi_usd"] == pytest.approx(total.oi_usd) and set(js["exchanges"]) == set(ALL)
    assert js["total"]["realized_long_usd"] == total.realized_long_usd


async def test_the_extras_fail_quietly_and_the_map_still_comes(app: App, server: ExchangeServer) -> None:
    """An exchange that does not answer the optional requests (here: every one of them 404s) leaves the ratio and
    the prediction unknown; OI and funding still come from the history the map is built from."""
    from tests.standins import exchange_server

    saved = dict(exchange_server.ROUTES)
    for key in [k for k in exchange_server.ROUTES if "LongShort" in k[1] or "long-short" in k[1]
                or "account-ratio" in k[1] or k[1] in ("/fapi/v1/premiumIndex", "/api/v5/public/funding-rate")]:
        del exchange_server.ROUTES[key]
    try:
        reply = await app.service.liqmap(chat(2), "BTC", "24h")
    finally:
        exchange_server.ROUTES.clear()
        exchange_server.ROUTES.update(saved)
    assert not reply.error and reply.png is not None
    ctx = (await app.service.map_for(SYMBOL, "24h"))[0].map.context
    assert ctx is not None and ctx.total.long_short_ratio is None and ctx.total.predicted_funding_rate is None
    assert ctx.total.oi_usd is not None and ctx.total.funding_rate is not None
    assert "L/S" not in reply.text and "funding +0.0" in reply.text


async def test_a_stalled_exchange_leaves_its_extras_out_within_the_timeout(app: App,
                                                                          server: FaultyExchangeServer) -> None:
    """OKX's long/short endpoint never answers (the connection stalls): the map comes after ``EXTRAS_TIMEOUT_S``
    (5 s, the production value; ccxt's own timeout is 20 s), with OKX's ratio unknown and the others' figures in."""
    from bot.market.ccxt_extras import EXTRAS_TIMEOUT_S

    server.garble("okx", "/long-short-account-ratio-contract", "hang")
    started = asyncio.get_running_loop().time()
    reply = await app.service.liqmap(chat(4), "BTC", "24h")
    waited = asyncio.get_running_loop().time() - started
    assert not reply.error and reply.png is not None, reply.text
    assert waited < 15, waited  # not ccxt's 20 s, nor the stand-in's 60 s stall
    ctx = (await app.service.map_for(SYMBOL, "24h"))[0].map.context
    assert ctx is not None
    ratios = {c.exchange: c.long_short_ratio for c in ctx.exchanges}
    assert ratios["okx"] is None and ratios["binanceusdm"] is not None and ratios["bybit"] is not None
    assert EXTRAS_TIMEOUT_S == 5.0
    extras = app.source.inner._extras  # type: ignore[attr-defined]  # the shipped CcxtSource's cache
    assert extras is not None and len(extras._locks) == 0  # a symbol's lock is not kept once nobody waits
