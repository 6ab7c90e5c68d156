"""The risk model (bot/model/risk.py): the liquidation price by Binance's formula and tier, hand-computed and
against real Binance positions, plus clusters between, the dense-zone check and the 24h reach probability."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.model.risk import (
    DAY_MS,
    Position,
    assess,
    clusters_between,
    distance_pct,
    entry_zone,
    liq_price,
    path_sigma,
    reach_within,
    tier_of,
)
from bot.model.types import Cluster
from tests.alerts.helpers import EXCHANGES, NOW
from tests.conftest import shared_dataset


def _cluster(cid: str, side: str, low: float, high: float, usd: float, price: float) -> Cluster:
    edge = high if side == "long" else low
    return Cluster(cid, side, low, high, (low + high) / 2, usd, 0.1, (edge - price) / price * 100)  # type: ignore[arg-type]


def test_textbook_long_20x_10k_first_tier() -> None:
    # Binance one-way isolated: LP = (WB - side*Q*EP + cum) / (Q*MMR - side*Q), WB = Q*EP/L.
    # $10,000 at 62,000, 20x: Q = 0.16129 BTC, WB = 500 USDT, tier 1 (MMR 0.4%, cum 0):
    # LP = (500 - 10000) / (Q*0.004 - Q) = 62000 * 0.95 / 0.996 = 59,136.55 (hand-computed).
    pos = Position(side=1, entry=62_000.0, leverage=20.0, size_usd=10_000.0)
    assert liq_price(pos) == pytest.approx(59_136.55, abs=0.01)
    tier = tier_of(pos)
    assert (tier.mmr, tier.cum_usd, tier.max_leverage) == (0.004, 0.0, 125.0)


def test_textbook_with_maintenance_amount() -> None:
    # $1,000,000 at 62,000, 20x: Binance's BTCUSDT bracket [600k, 3M): MMR 0.65%, maintenance amount 950 USDT
    # (50k*(0.5%-0.4%) + 600k*(0.65%-0.5%)). Long: 62000*(1 - 0.05 - 0.00095)/(1 - 0.0065) = 59,226.07;
    # short: 62000*(1 + 0.05 + 0.00095)/(1 + 0.0065) = 64,738.10 (hand-computed).
    long_ = Position(side=1, entry=62_000.0, leverage=20.0, size_usd=1_000_000.0)
    short = Position(side=-1, entry=62_000.0, leverage=20.0, size_usd=1_000_000.0)
    assert liq_price(long_) == pytest.approx(59_226.07, abs=0.01)
    assert liq_price(short) == pytest.approx(64_738.10, abs=0.01)
    assert tier_of(long_).cum_usd == pytest.approx(950.0)
    assert tier_of(long_).max_leverage == 75.0


def test_one_x_long_has_no_liquidation_price() -> None:
    assert math.isnan(liq_price(Position(side=1, entry=62_000.0, leverage=1.0, size_usd=10_000.0)))
    assert liq_price(Position(side=-1, entry=62_000.0, leverage=1.0, size_usd=10_000.0)) > 2 * 62_000 * 0.99


def _positions() -> list[dict[str, Any]]:
    raw = json.loads((shared_dataset("binance-liquidation-price") / "positions.json").read_text())
    return [p for case in raw["fetchPositions"] for p in case["parsedResponse"]]


def test_matches_real_binance_positions() -> None:
    # Real Binance positions with the exchange's own liquidation price (one position on the account, so the
    # one-way formula is the isolated one with the balance as margin: leverage = notional at entry / collateral).
    checked = 0
    for p in _positions():
        side = 1 if p["side"] == "long" else -1
        inverse = p["symbol"] == "BTC/USD:BTC"
        entry = float(p["entryPrice"])
        if inverse:
            size = float(p["contracts"]) * float(p["contractSize"])  # USD of face value
            leverage = size / entry / float(p["collateral"])
        else:
            size = float(p["contracts"]) * entry
            leverage = size / float(p["collateral"])
        pos = Position(side=side, entry=entry, leverage=leverage, size_usd=size, inverse=inverse)
        assert liq_price(pos) == pytest.approx(float(p["liquidationPrice"]), rel=1e-8)
        assert tier_of(pos).mmr == pytest.approx(float(p["maintenanceMarginPercentage"]))
        checked += 1
    assert checked == 3


def test_distance_between_and_entry_zone() -> None:
    price = 64_000.0
    clusters = (
        _cluster("L1", "long", 63_000.0, 63_400.0, 40e6, price),
        _cluster("L2", "long", 61_500.0, 62_200.0, 90e6, price),
        _cluster("L3", "long", 55_000.0, 56_000.0, 70e6, price),  # beyond the level
        _cluster("S1", "short", 65_000.0, 65_500.0, 50e6, price),
    )
    level = 59_136.55
    assert distance_pct(price, level, 1) == pytest.approx((64_000 - 59_136.55) / 640, rel=1e-9)
    assert distance_pct(price, 66_000.0, -1) == pytest.approx(3.125)
    assert distance_pct(price, 63_000.0, -1) == pytest.approx(-1.5625)  # a short already beyond its level
    assert [c.id for c in clusters_between(clusters, price, level, 1)] == ["L1", "L2"]
    assert [c.id for c in clusters_between(clusters, price, 67_000.0, -1)] == ["S1"]
    zone = entry_zone(clusters, 62_000.0)
    assert zone is not None and zone.id == "L2"
    assert entry_zone(clusters, 64_000.0) is None


def test_reach_probability_and_sigma_from_the_path() -> None:
    tf = 300_000
    at = 1_780_000_000_000
    t = at - tf * np.arange(24, 0, -1) + tf  # 24 closed 5m candles ending at ``at``
    low, high = np.full(24, 63_900.0), np.full(24, 64_100.0)
    sigma = path_sigma(t.astype(np.int64), low, high, tf, at)
    expected = math.sqrt(math.log(64_100 / 63_900) ** 2 / (4 * math.log(2)) / tf)
    assert sigma == pytest.approx(expected, rel=1e-9)
    near, far = reach_within(64_000.0, 63_500.0, sigma), reach_within(64_000.0, 59_000.0, sigma)
    assert 0.0 < far < near < 1.0
    assert reach_within(64_000.0, 63_500.0, sigma, DAY_MS // 24) < near


async def test_assess_on_a_sim_map() -> None:
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    m = (await engine.compute("BTC/USDT:USDT", "24h")).map
    below = sorted((c for c in m.clusters if c.side == "long"), key=lambda c: -c.distance_pct)
    assert below, "the sim map has long clusters"
    entry = (below[0].low + below[0].high) / 2  # inside the nearest long zone
    pos = Position(side=1, entry=entry, leverage=25.0, size_usd=10_000.0)
    check = assess(pos, m, 300_000)  # the 24h map is built from 5m candles
    assert check.liq == pytest.approx(liq_price(pos))
    assert check.entry_zone is not None and check.entry_zone.id == below[0].id
    assert check.between and all(c.side == "long" and c.high > check.liq for c in check.between)
    assert check.between_usd == pytest.approx(sum(c.usd for c in check.between))
    assert 0.0 < check.reach_24h < 1.0 and check.sigma > 0
    short = assess(Position(side=-1, entry=m.price, leverage=100.0, size_usd=10_000.0), m, 300_000)
    assert short.liq > m.price and short.reach_24h > check.reach_24h  # 100x sits much closer


def test_coin_m_tier_matches_binances_published_example() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts": a 300 BTC BTCUSD position has
    # MMR 12.5% and maintenance amount 11.605 BTC. Tiers are looked up by the notional in BTC (size USD / entry).
    tier = tier_of(Position(side=1, entry=1.0, leverage=1.0, size_usd=300.0, inverse=True))
    assert (tier.mmr, tier.cum_usd) == (0.125, pytest.approx(11.605))
    # The same FAQ: 100 contracts x $100 at 25,000 is 0.4 BTC, level 1 (MMR 0.4%, cum 0). Isolated 20x long:
    # WB = 0.02 BTC, LP = (Q*MMR + Q) / (WB + cum + Q/EP) = 10,040 / 0.42 = 23,904.76 (hand-computed).
    pos = Position(side=1, entry=25_000.0, leverage=20.0, size_usd=10_000.0, inverse=True)
    assert liq_price(pos) == pytest.approx(23_904.76, abs=0.01)


def test_coin_m_matches_binances_calculator() -> None:
    # Binance's own calculator output quoted on Binance's developer forum (dev.binance.vision, "Coin-Margined
    # Futures Liquidation Price Calculation"): BTCUSD long $10,000,000 at 45,000 with 101 BTC wallet balance (one
    # position, so the margin is the balance: leverage = 222.2 BTC / 101 BTC) → liquidation price $33,599.40.
    notional_btc = 10_000_000 / 45_000
    pos = Position(side=1, entry=45_000.0, leverage=notional_btc / 101, size_usd=10_000_000.0, inverse=True)
    assert liq_price(pos) == pytest.approx(33_599.40, abs=0.05)


def test_bybit_matches_its_published_examples() -> None:
    """Bybit's help centre ("Liquidation Price (USDT Contract)"): long 1 BTC at 20,000 USDT, 50x, MMR 0.5 %, no
    extra margin → 19,700; the short mirror → 20,300. With a deduction (tier 2: MMR 0.75 %, $5,000): by the formula."""
    from bot.model.risk import BYBIT_BTCUSDT_TIERS, liq_with_tier

    long_lp, tier = liq_with_tier(Position(1, 20_000.0, 50.0, 20_000.0, formula="bybit"))
    assert long_lp == pytest.approx(19_700.0) and tier.mmr == 0.005
    assert liq_with_tier(Position(-1, 20_000.0, 50.0, 20_000.0, formula="bybit"))[0] == pytest.approx(20_300.0)
    lp, tier = liq_with_tier(Position(1, 60_000.0, 20.0, 3_000_000.0, formula="bybit"), BYBIT_BTCUSDT_TIERS)
    q = 3_000_000.0 / 60_000.0
    assert tier.cum_usd == 5_000.0 and lp == pytest.approx(60_000.0 - (150_000.0 - (22_500.0 - 5_000.0)) / q)
