"""Liquidation-price formulas against real exchange values: USDT-M isolated and one-way cross (positions.json)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest

from bot.model.liquidation import (
    DEFAULT_TIERS,
    cross_liq_price,
    inverse_cross_liq_price,
    isolated_liq_price,
    liq_factors,
    tier_lookup,
)
from tests.conftest import shared_dataset


def test_isolated_uses_tier_cum() -> None:
    # 1M USD notional is in the 0.65% tier of Binance's published BTCUSDT brackets (bot/data/binance_btc_tiers.json);
    # cum = 50k*(0.005-0.004) + 600k*(0.0065-0.005) = 950 USD, the value Binance publishes.
    mmr, cum = tier_lookup(1_000_000.0)
    assert float(mmr) == pytest.approx(0.0065)
    assert float(cum) == pytest.approx(950.0)
    expected = 50_000 * (1 - 1 / 20 - 950 / 1_000_000) / (1 - 0.0065)
    assert isolated_liq_price(50_000.0, 20.0, 1, 1_000_000.0) == pytest.approx(expected, rel=1e-12)


def test_tiers_keep_maintenance_margin_continuous() -> None:
    for prev, tier in itertools.pairwise(DEFAULT_TIERS):
        at = tier.floor_usd
        assert at * prev.mmr - prev.cum_usd == pytest.approx(at * tier.mmr - tier.cum_usd, rel=1e-9)


def test_liq_factors_sides() -> None:
    levs = np.array([5.0, 10.0, 50.0, 125.0])
    assert (liq_factors(levs, 1, 10_000.0) < 1.0).all()
    assert (liq_factors(levs, -1, 10_000.0) > 1.0).all()
    # Higher leverage -> closer to entry.
    assert (np.diff(liq_factors(levs, 1, 10_000.0)) > 0).all()


def _positions() -> list[dict[str, Any]]:
    path = shared_dataset("binance-liquidation-price") / "positions.json"
    raw = json.loads(path.read_text())
    cases = next(v for v in raw.values() if isinstance(v, list))
    return [p for case in cases for p in case["parsedResponse"]]


def test_isolated_formula_matches_binance_usdt_m_positions() -> None:
    # Real Binance USDT-M BTCUSDT positions with the exchange's own liquidation price. With one position on the
    # account, the one-way formula is the isolated one with the wallet balance as the position's margin: ccxt's
    # ``collateral`` (the balance implied by the exchange's price), i.e. leverage = entry notional / collateral.
    linear = [p for p in _positions() if p["symbol"] == "BTC/USDT:USDT"]
    assert len(linear) == 2
    for p in linear:
        notional = float(p["contracts"]) * float(p["entryPrice"])
        leverage = notional / float(p["collateral"])
        lp = isolated_liq_price(p["entryPrice"], leverage, 1 if p["side"] == "long" else -1, notional)
        assert float(lp) == pytest.approx(float(p["liquidationPrice"]), rel=1e-9)
        # The tier the formula picked is the exchange's: maintMargin = notional x MMR (cum 0) at the mark price.
        mmr, cum = tier_lookup(float(p["notional"]))
        assert float(cum) == 0.0
        assert float(p["info"]["maintMargin"]) == pytest.approx(float(p["notional"]) * float(mmr), rel=1e-8)


def test_cross_formula_matches_binance_linear() -> None:
    linear = [p for p in _positions() if p["symbol"] == "BTC/USDT:USDT"]
    assert len(linear) == 2
    for p in linear:
        side = 1 if p["side"] == "long" else -1
        lp = cross_liq_price(p["collateral"], p["contracts"], p["entryPrice"], side, p["maintenanceMarginPercentage"])
        assert float(lp) == pytest.approx(float(p["liquidationPrice"]), rel=1e-9)


def test_inverse_cross_formula_matches_binance_coin_m() -> None:
    inverse = [p for p in _positions() if p["symbol"] == "BTC/USD:BTC"]
    assert len(inverse) == 1
    p = inverse[0]
    side = 1 if p["side"] == "long" else -1
    qty_usd = float(p["contracts"]) * float(p["contractSize"])
    lp = inverse_cross_liq_price(p["collateral"], qty_usd, p["entryPrice"], side, p["maintenanceMarginPercentage"])
    assert float(lp) == pytest.approx(float(p["liquidationPrice"]), rel=1e-9)
