"""Inverse (coin-margined) contracts: the COIN-M liquidation formula against real and published exchange values,
and maps of inverse series whose levels sit at the inverse distance (through the replay source and the engine)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.engine import MapEngine
from bot.market.replay import write_dataset
from bot.market.source import make_source
from bot.market.types import MarketSeries
from bot.model.liquidation import (
    DEFAULT_INVERSE_TIERS,
    inverse_cross_liq_price,
    inverse_isolated_liq_price,
    isolated_liq_price,
    liq_factors,
    tier_lookup,
)
from bot.model.params import DEFAULT_PARAMS
from bot.model.types import LiqMap
from tests.conftest import shared_dataset

FIVE_MIN = 300_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000


def _coin_m_position() -> dict[str, Any]:
    path = shared_dataset("binance-liquidation-price") / "positions.json"
    cases = json.loads(path.read_text())["fetchPositions"]
    found = [p for case in cases for p in case["parsedResponse"] if p["symbol"] == "BTC/USD:BTC"]
    assert len(found) == 1
    return found[0]


def test_coin_m_tier_and_cross_formula_match_binance() -> None:
    # Binance COIN-M BTCUSD_PERP cross short, 3 x 100 USD @ 68,911.00000037, 20x; exchange liq 72,491.16879818.
    p = _coin_m_position()
    qty_usd = float(p["contracts"]) * float(p["contractSize"])
    entry, side = float(p["entryPrice"]), -1
    assert (qty_usd, p["side"]) == (300.0, "short")
    # The default COIN-M table gives the exchange's tier: notional in BTC, MMR 0.4 %, no maintenance amount.
    mmr, cum = tier_lookup(qty_usd / entry, inverse=True)
    assert float(mmr) == float(p["maintenanceMarginPercentage"]) and float(cum) == 0.0
    # ccxt's collateral is the cross balance implied by the liquidation price: the cross formula must give it back.
    lp = inverse_cross_liq_price(p["collateral"], qty_usd, entry, side, mmr, cum)
    assert float(lp) == pytest.approx(float(p["liquidationPrice"]), rel=1e-9)
    # One position on the account: the isolated formula with that balance as the margin is the same price.
    leverage = (qty_usd / entry) / float(p["collateral"])
    lp_iso = inverse_isolated_liq_price(entry, leverage, side, qty_usd)
    assert float(lp_iso) == pytest.approx(float(p["liquidationPrice"]), rel=1e-9)
    # ... and the linear formula is nowhere near it (the defect this replaces).
    lin = isolated_liq_price(entry, leverage, side, qty_usd)
    assert abs(float(lin) / float(p["liquidationPrice"]) - 1.0) > 0.002


def test_inverse_isolated_matches_binance_calculator_example() -> None:
    # Published: https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-cm-variable/6292
    # Binance's COIN-M calculator: wallet 101 BTC, long 100,000 BTCUSD contracts (10,000,000 USD) at 45,000 gives
    # a liquidation price of 33,599.40 (shown to the 0.1 USD tick). One position, so isolated with 101 BTC margin.
    # 10M USD / 45k = 222 BTC is in the 200-400 BTC tier: MMR 12.5 %, maintenance amount 11.605 BTC (the values
    # Binance's COIN-M liquidation FAQ gives for a 300 BTC BTCUSD position).
    qty_usd, entry, wallet = 10_000_000.0, 45_000.0, 101.0
    mmr, cum = tier_lookup(qty_usd / entry, inverse=True)
    assert (float(mmr), float(cum)) == (0.125, pytest.approx(11.605, abs=1e-12))
    lp = float(inverse_isolated_liq_price(entry, (qty_usd / entry) / wallet, 1, qty_usd))
    assert math.floor(lp * 10) / 10 == pytest.approx(33_599.4, abs=1e-9)
    assert float(inverse_cross_liq_price(wallet, qty_usd, entry, 1, mmr, cum)) == pytest.approx(lp, rel=1e-12)


def test_inverse_levels_at_the_inverse_distance() -> None:
    # First tier (MMR 0.4 %, cum 0): long k = 1.004 / (1 + 1/L), short k = 0.996 / (1 - 1/L). Against the linear
    # formula the long level is 3.35 % (5x) / 0.91 % (10x) of price closer, the short one 4.98 % / 1.10 % further.
    levs = np.array([5.0, 10.0])
    inv_long = liq_factors(levs, 1, 10_000.0, inverse=True, price=60_000.0)
    inv_short = liq_factors(levs, -1, 10_000.0, inverse=True, price=60_000.0)
    np.testing.assert_allclose(inv_long, [1.004 / 1.2, 1.004 / 1.1], rtol=1e-12)
    np.testing.assert_allclose(inv_short, [0.996 / 0.8, 0.996 / 0.9], rtol=1e-12)
    np.testing.assert_allclose(inv_long - liq_factors(levs, 1, 10_000.0), [0.0335, 0.0091], atol=5e-5)
    np.testing.assert_allclose(inv_short - liq_factors(levs, -1, 10_000.0), [0.0498, 0.0110], atol=5e-5)


def _flat_series(symbol: str, contract: str) -> MarketSeries:
    """A quiet 60k market (±10 USD candles) where OI jumps by 200M USD at one candle and is flat otherwise."""
    n = 400
    ts = T0 + FIVE_MIN * np.arange(n, dtype=np.int64)
    close = np.full(n, 60_000.0)
    oi = np.full(n, 5e9)
    oi[300:] += 2e8
    volume = np.full(n, 100.0)
    return MarketSeries(
        exchange="binance", symbol=symbol, timeframe="5m", timestamp=ts, open=close, high=close + 10.0,
        low=close - 10.0, close=close, volume=volume, taker_buy_volume=volume / 2, contract=contract,
        oi_timestamp=ts + FIVE_MIN, oi_usd=oi,
    )


def _map(series: MarketSeries, directory: Path) -> LiqMap:
    write_dataset(series, directory, "test: inverse vs linear")
    source = make_source(f"replay:{directory}", [])

    async def go() -> LiqMap:
        try:
            return (await MapEngine(source).compute(series.symbol, "24h")).map
        finally:
            await source.close()

    return asyncio.run(go())


def _level(m: LiqMap, usd_by_lev: np.ndarray, lev: float) -> float:
    """USD-weighted mean price of one leverage bucket's pending levels."""
    row = usd_by_lev[list(m.leverages).index(lev)]
    assert row.sum() > 0
    return float((row * m.bin_price).sum() / row.sum())


def test_inverse_series_maps_at_the_inverse_distance(tmp_path: Path) -> None:
    """The same market as a COIN-M (inverse) and as a USDT-M (linear) perpetual gives different maps, with each
    bucket's levels where that contract's isolated formula puts them."""
    inverse = _map(_flat_series("BTC/USD:BTC", "inverse"), tmp_path / "inverse")
    linear = _map(_flat_series("BTC/USDT:USDT", "linear"), tmp_path / "linear")
    assert inverse.price == linear.price == 60_000.0
    assert not np.array_equal(inverse.long_usd, linear.long_usd)
    assert not np.array_equal(inverse.short_usd, linear.short_usd)
    assert inverse.to_json()["bins"] != linear.to_json()["bins"]
    tol = 0.0005 * 60_000.0  # the grid's bin width is 0.05 % of price
    for lev in (5.0, 10.0):
        assert _level(inverse, inverse.long_by_lev, lev) == pytest.approx(60_000.0 * 1.004 / (1 + 1 / lev), abs=tol)
        assert _level(linear, linear.long_by_lev, lev) == pytest.approx(60_000.0 * (1 - 1 / lev) / 0.996, abs=tol)
        assert _level(inverse, inverse.short_by_lev, lev) == pytest.approx(
            60_000.0 * 0.996 / (1 - 1 / lev), abs=tol)
    # The same USD went in on both: only where it sits differs.
    assert inverse.total_long_usd == pytest.approx(linear.total_long_usd, rel=1e-6)


def test_inverse_symbol_with_linear_meta_is_mapped_as_its_contract_says(tmp_path: Path) -> None:
    # The contract type comes from the data (meta.json ``contract``), so the symbol alone changes nothing.
    a = _map(_flat_series("BTC/USD:BTC", "linear"), tmp_path / "a")
    b = _map(_flat_series("BTC/USDT:USDT", "linear"), tmp_path / "b")
    np.testing.assert_array_equal(a.long_usd, b.long_usd)


def test_model_fallback_inverse_tiers_are_the_coin_m_brackets() -> None:
    # Floors in BTC; continuity of the maintenance margin across tiers; a 10k USD position is in the first tier.
    assert [t.floor_usd for t in DEFAULT_INVERSE_TIERS[:4]] == [0.0, 5.0, 10.0, 20.0]
    for prev, cur in itertools.pairwise(DEFAULT_INVERSE_TIERS):
        assert cur.floor_usd * prev.mmr - prev.cum_usd == pytest.approx(cur.floor_usd * cur.mmr - cur.cum_usd)
    mmr, cum = tier_lookup(DEFAULT_PARAMS.typical_position_usd / 60_000.0, inverse=True)
    assert (float(mmr), float(cum)) == (0.004, 0.0)
