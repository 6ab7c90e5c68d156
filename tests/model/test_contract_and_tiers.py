"""The contract type and the tier table reach every part of the model: the forecast's new positions sit at the
levels of their own contract, a dataset that does not state its contract is read by its symbol, and the model's
fallback tiers are the packaged default tables."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.market.replay import load_dataset, write_dataset
from bot.market.tiers import default_tiers
from bot.market.types import MarketSeries
from bot.model.build import build_map
from bot.model.forecast import forecast_liquidations
from bot.model.liquidation import DEFAULT_INVERSE_TIERS, DEFAULT_TIERS, liq_factors
from bot.model.params import ModelParams
from tests.model.series import random_series

HOUR = 3_600_000


def test_model_fallback_tiers_are_the_packaged_default_tables() -> None:
    """One table per contract kind: what the bot uses without live tiers (``default_tiers``) is what the model
    falls back to for a series that carries none (replay, backtest)."""
    assert default_tiers("BTC/USDT:USDT") == DEFAULT_TIERS
    assert default_tiers("BTC/USD:BTC") == DEFAULT_INVERSE_TIERS


def _new_position_level(series: MarketSeries, lev: float) -> tuple[float, float]:
    """USD-weighted mean log distance from price of the forecast's new long (below) and short (above) positions
    of a one-bucket leverage mix; the map is emptied so only part (b) of the forecast remains."""
    params = ModelParams(leverages=(lev,), leverage_weights=(1.0,))
    m = build_map([series], window="24h", params=params)
    m = replace(m, long_usd=np.zeros_like(m.long_usd), short_usd=np.zeros_like(m.short_usd))
    f = forecast_liquidations(m, [series], 6 * HOUR, params)
    assert f.pending_usd.sum() == 0 and f.new_usd.sum() > 0
    x = np.log(m.bin_price / m.price)
    below, above = m.bin_price < m.price, m.bin_price > m.price
    return (float(np.average(x[below], weights=f.new_usd[below])),
            float(np.average(x[above], weights=f.new_usd[above])))


def test_forecast_new_positions_sit_at_their_contracts_levels() -> None:
    """A 10x position opened during the horizon is liquidated at entry x k (x (1 -+ MMR) as recorded): the linear
    k for a USDT-M series, the inverse one for a COIN-M series (before the fix both used the linear k)."""
    linear = random_series(3, n=400)
    inverse = replace(linear, symbol="BTC/USD:BTC", contract="inverse")
    mmr = 0.004  # first tier of both default tables for a 10k USD position
    for series, inv in ((linear, False), (inverse, True)):
        long_at, short_at = _new_position_level(series, 10.0)
        p = float(series.close[-1])
        k_long = float(liq_factors(np.array([10.0]), 1, 10_000.0, inverse=inv, price=p)[0])
        k_short = float(liq_factors(np.array([10.0]), -1, 10_000.0, inverse=inv, price=p)[0])
        # Entries diffuse symmetrically in log price, so the mean level sits at the offset (grid: 0.05% bins).
        assert long_at == pytest.approx(math.log(k_long * (1 - mmr)), abs=1e-3)
        assert short_at == pytest.approx(math.log(k_short * (1 + mmr)), abs=1e-3)
    lin_long, _ = _new_position_level(linear, 10.0)
    inv_long, _ = _new_position_level(inverse, 10.0)
    assert inv_long > lin_long + 0.005  # inverse longs sit ~1% of price closer to entry at 10x


def _write(tmp_path: Path, symbol: str, contract: str | None) -> Path:
    series = random_series(1, n=30)
    directory = tmp_path / symbol.replace("/", "_").replace(":", "_")
    write_dataset(replace(series, symbol=symbol), directory, "test: meta without contract")
    meta_path = directory / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if contract is None:
        meta.pop("contract", None)
    else:
        meta["contract"] = contract
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("symbol", "stated", "expected"),
    [
        ("BTC/USD:BTC", None, "inverse"),  # coin-settled symbol, no contract: inverse
        ("BTCUSD", None, "inverse"),  # the same in exchange spelling
        ("BTC/USDT:USDT", None, "linear"),
        ("BTC/USD:BTC", "linear", "linear"),  # a stated contract wins
    ],
)
def test_replay_contract_falls_back_to_the_symbol(tmp_path: Path, symbol: str, stated: str | None,
                                                  expected: str) -> None:
    assert load_dataset(_write(tmp_path, symbol, stated)).contract == expected
