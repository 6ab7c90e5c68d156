"""Inverse (coin-margined) symbols get the COIN-M tier table in BTC, not the USDT-M one, on every source."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from bot.market.source import SimSource
from bot.market.tiers import default_tiers
from bot.model.liquidation import DEFAULT_INVERSE_TIERS, DEFAULT_TIERS
from tests.conftest import shared_dataset

NOW = 1_767_225_600_000  # 2026-01-01 UTC


@pytest.mark.parametrize("symbol", ["BTC/USD:BTC", "BTCUSD", "BTCUSD_PERP", "XBTUSD"])
def test_inverse_symbols_get_the_coin_m_table(symbol: str) -> None:
    tiers = default_tiers(symbol)
    assert tiers == DEFAULT_INVERSE_TIERS  # the packaged table and the model's fallback are one table
    assert tiers != default_tiers("BTC/USDT:USDT")
    assert tiers[0].floor_usd == 0.0 and tiers[1].floor_usd == 5.0 and math.isinf(tiers[-1].cap_usd)  # BTC
    for prev, cur in itertools.pairwise(tiers):
        assert cur.floor_usd == prev.cap_usd and cur.mmr > prev.mmr and cur.max_leverage < prev.max_leverage
        assert cur.floor_usd * prev.mmr - prev.cum_usd == pytest.approx(cur.floor_usd * cur.mmr - cur.cum_usd)
    # Binance's COIN-M liquidation FAQ: a 300 BTC BTCUSD position has MMR 12.5 % and maintenance amount 11.605 BTC.
    at_300 = next(t for t in tiers if t.floor_usd <= 300.0 < t.cap_usd)
    assert at_300.mmr == 0.125 and at_300.cum_usd == pytest.approx(11.605, abs=1e-9)


def test_linear_symbols_keep_the_usdt_table() -> None:
    assert default_tiers("BTC/USDT:USDT") == default_tiers("BTCUSDT") == default_tiers()
    assert default_tiers("BTC/USDT:USDT")[1].floor_usd == 50_000.0
    assert DEFAULT_TIERS[0].mmr == default_tiers()[0].mmr


def test_coin_m_table_is_ccxts_recorded_binance_brackets() -> None:
    path = shared_dataset("binance-liquidation-price") / "leverage_brackets.json"
    recorded = json.loads(path.read_text())["leverageBrackets"]["BTC/USD:BTC"]
    tiers = default_tiers("BTC/USD:BTC")
    assert [(t.floor_usd, t.mmr) for t in tiers] == [(float(f), float(m)) for f, m in recorded]


async def test_sim_inverse_series_is_inverse_with_coin_tiers() -> None:
    source = SimSource(["binance"], now_ms=NOW)
    inverse = (await source.load("BTCUSD", "5m", NOW - 3_600_000)).series[0]
    linear = (await source.load("BTCUSDT", "5m", NOW - 3_600_000)).series[0]
    assert (inverse.symbol, inverse.contract, inverse.tiers) == ("BTC/USD:BTC", "inverse", DEFAULT_INVERSE_TIERS)
    assert linear.contract == "linear" and linear.tiers == default_tiers("BTC/USDT:USDT")
