"""Tier tables (default and ccxt-shaped) and the one retry helper."""

from __future__ import annotations

import itertools
import math
from typing import Any

import ccxt.async_support as ccxt
import pytest

from bot.market.errors import MarketError
from bot.market.retry import backoff_delay, with_retries
from bot.market.tiers import default_tiers, tiers_from_ccxt


def test_default_table_is_sane() -> None:
    tiers = default_tiers()
    assert len(tiers) >= 8 and tiers[0].floor_usd == 0.0 and tiers[0].cum_usd == 0.0
    for prev, cur in itertools.pairwise(tiers):
        assert cur.floor_usd > prev.floor_usd and cur.floor_usd == prev.cap_usd
        assert cur.mmr > prev.mmr and cur.max_leverage < prev.max_leverage
        assert cur.cum_usd == pytest.approx(prev.cum_usd + cur.floor_usd * (cur.mmr - prev.mmr))
        # maintenance margin is continuous at each floor
        assert cur.floor_usd * prev.mmr - prev.cum_usd == pytest.approx(cur.floor_usd * cur.mmr - cur.cum_usd)
    assert math.isinf(tiers[-1].cap_usd)
    assert tiers[1].cum_usd == pytest.approx(50.0)  # Binance's published cum for the 2nd BTCUSDT bracket


def test_tiers_from_ccxt_shape() -> None:
    raw: list[dict[str, Any]] = [  # ccxt unified leverage tiers, given out of order; Binance-like info carries cum
        {"tier": 2, "minNotional": 50000.0, "maxNotional": 250000.0, "maintenanceMarginRate": 0.005,
         "maxLeverage": 100.0, "info": {"cum": "50.0"}},
        {"tier": 1, "minNotional": 0.0, "maxNotional": 50000.0, "maintenanceMarginRate": 0.004,
         "maxLeverage": 125.0, "info": {"cum": "0.0"}},
        {"tier": 3, "minNotional": 250000.0, "maxNotional": None, "maintenanceMarginRate": 0.01,
         "maxLeverage": None, "info": {}},
    ]
    t = tiers_from_ccxt(raw)
    assert [x.floor_usd for x in t] == [0.0, 50000.0, 250000.0]
    assert t[1].cum_usd == 50.0 and t[2].cum_usd == pytest.approx(50 + 250000 * 0.005)
    assert math.isinf(t[2].cap_usd) and t[2].max_leverage == pytest.approx(50.0)
    scaled = tiers_from_ccxt(raw, scale=2.0)
    assert scaled[1].floor_usd == 100000.0 and scaled[1].cum_usd == pytest.approx(100000 * 0.001)
    assert tiers_from_ccxt([]) == ()
    with pytest.raises(MarketError, match="maintenanceMarginRate is 'x'"):
        tiers_from_ccxt([{"minNotional": 0, "maintenanceMarginRate": "x"}])


async def no_wait(_s: float) -> None:
    return None


@pytest.mark.parametrize("exc", [ccxt.NetworkError, ccxt.RateLimitExceeded, ccxt.ExchangeNotAvailable,
                                 ccxt.RequestTimeout, ccxt.DDoSProtection])
async def test_transient_errors_are_retried_then_succeed(exc: type[Exception]) -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise exc("boom")
        return "ok"

    assert await with_retries(flaky, attempts=4, sleep=no_wait) == "ok" and len(calls) == 3


@pytest.mark.parametrize("exc", [ccxt.BadSymbol, ccxt.AuthenticationError, ccxt.BadRequest, ValueError])
async def test_permanent_errors_are_not_retried(exc: type[Exception]) -> None:
    calls = []

    async def broken() -> str:
        calls.append(1)
        raise exc("no")

    with pytest.raises(exc):
        await with_retries(broken, attempts=4, sleep=no_wait)
    assert len(calls) == 1


async def test_gives_up_after_attempts_with_growing_delays() -> None:
    waits: list[float] = []

    async def record_wait(s: float) -> None:
        waits.append(s)

    async def down() -> None:
        raise ccxt.ExchangeNotAvailable("503")

    with pytest.raises(ccxt.ExchangeNotAvailable):
        await with_retries(down, attempts=4, base_delay=1.0, max_delay=3.0, sleep=record_wait)
    assert len(waits) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 1.5 <= waits[2] <= 3.0  # capped at max_delay
    assert backoff_delay(10, 0.5, 8.0) <= 8.0
