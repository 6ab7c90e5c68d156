"""The vectorised engine against the plain loop, and the model's invariants (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.book import pending_by_leverage, pending_total, side_cohorts
from bot.model.build import build_map
from bot.model.flows import series_flows
from bot.model.grid import Grid, grid_around
from bot.model.liquidation import DEFAULT_TIERS, isolated_liq_price
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.reference import reference_book
from tests.model.series import random_series

FAST = settings(max_examples=15, deadline=None)


def _wide_grid(series_close: float) -> Grid:
    return grid_around(series_close, 0.6, 2400)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("half_life", [0.0, 2.0])
def test_vectorised_book_equals_reference_loop(seed: int, half_life: float) -> None:
    params = replace(DEFAULT_PARAMS, half_life_h=half_life)
    series = random_series(seed, n=60, with_oi=seed != 3)
    flows = series_flows(series, 0, params)
    grid = grid_around(float(series.close[-1]), 0.3, 1000)
    ref = reference_book(flows, grid, params)
    lv, sv = pending_by_leverage(flows, grid, params)
    scale = max(ref.long_usd.max(), ref.short_usd.max())
    np.testing.assert_allclose(lv.sum(axis=0), ref.long_usd, rtol=1e-7, atol=1e-9 * scale)
    np.testing.assert_allclose(sv.sum(axis=0), ref.short_usd, rtol=1e-7, atol=1e-9 * scale)
    assert ref.long_usd.sum() > 0 and ref.short_usd.sum() > 0


@FAST
@given(seed=st.integers(0, 10_000), n=st.integers(2, 80), half_life=st.sampled_from([0.0, 1.0, 24.0]))
def test_no_negative_mass_and_conservation(seed: int, n: int, half_life: float) -> None:
    params = replace(DEFAULT_PARAMS, half_life_h=half_life)
    series = random_series(seed, n=n)
    flows = series_flows(series, 0, params)
    grid = _wide_grid(float(series.close[-1]))
    lv, sv = pending_by_leverage(flows, grid, params)
    assert (lv >= 0).all() and (sv >= 0).all()
    ref = reference_book(flows, grid, params)
    # deposited - closed - liquidated - decayed == pending, and the fast engine agrees on what is pending.
    ledger = ref.deposited - ref.closed - ref.liquidated - ref.decayed
    assert ledger == pytest.approx(ref.pending, rel=1e-9, abs=1e-6)
    total = pending_total(flows, params)
    assert total == pytest.approx(ref.pending, rel=1e-9, abs=1e-6)
    assert float(lv.sum() + sv.sum()) == pytest.approx(total, rel=1e-9, abs=1e-6)


@FAST
@given(
    entry=st.floats(1_000.0, 200_000.0),
    lev_frac=st.floats(0.0, 1.0),
    notional=st.floats(1.0, 5e8),
)
def test_long_levels_below_entry_short_above(entry: float, lev_frac: float, notional: float) -> None:
    # Any leverage the exchange allows for that notional (the tier's max leverage caps it; 1x tiers are skipped).
    tier = [t for t in DEFAULT_TIERS if t.floor_usd <= notional][-1]
    if tier.max_leverage <= 1.0:
        return
    lev = 1.01 + lev_frac * (tier.max_leverage - 1.01)
    assert isolated_liq_price(entry, lev, 1, notional) < entry
    assert isolated_liq_price(entry, lev, -1, notional) > entry


@FAST
@given(seed=st.integers(0, 10_000))
def test_cohorts_on_the_correct_side_of_their_candle(seed: int) -> None:
    series = random_series(seed, n=20)
    flows = series_flows(series, 0, DEFAULT_PARAMS)
    longs, shorts = side_cohorts(flows, 1, DEFAULT_PARAMS), side_cohorts(flows, -1, DEFAULT_PARAMS)
    assert (longs.hi < flows.high[:, None]).all()
    assert (shorts.lo > flows.low[:, None]).all()
    assert (longs.lo < longs.hi).all() and (shorts.lo < shorts.hi).all()


@FAST
@given(seed=st.integers(0, 10_000), cut=st.integers(30, 90), scale=st.floats(0.9, 1.1))
def test_no_lookahead_in_build_map(seed: int, cut: int, scale: float) -> None:
    series = random_series(seed, n=120)
    at = int(series.timestamp[cut])  # candles 0..cut-1 have closed
    before = build_map([series], window="12h", at_ms=at)
    future = series.timestamp >= at
    moved = replace(
        series,
        high=np.where(future, series.high * scale * 1.01, series.high),
        low=np.where(future, series.low * scale * 0.99, series.low),
        close=np.where(future, series.close * scale, series.close),
        oi_usd=np.where(series.oi_timestamp > at, series.oi_usd * 2.0, series.oi_usd),
    )
    after = build_map([moved], window="12h", at_ms=at)
    assert before.price == after.price
    np.testing.assert_array_equal(before.long_usd, after.long_usd)
    np.testing.assert_array_equal(before.short_usd, after.short_usd)
    np.testing.assert_array_equal(before.heat_long, after.heat_long)


def test_map_shapes_and_breakdown() -> None:
    params = ModelParams()
    m = build_map([random_series(5, n=300)], window="24h", params=params)
    b, v = params.n_bins, len(params.leverages)
    assert m.long_usd.shape == (b,) and m.long_by_lev.shape == (v, b)
    np.testing.assert_allclose(m.long_by_lev.sum(axis=0), m.long_usd)
    assert m.heat_long.shape == (m.heat_time.size, b)
    assert not m.is_empty
    # Longs pending below price, shorts above, except within the last candle's range.
    last_low, last_high = 0.99 * m.price, 1.01 * m.price
    assert m.long_usd[m.bin_price > last_high].sum() == 0
    assert m.short_usd[m.bin_price < last_low].sum() == 0
    payload = m.to_json()
    assert set(payload) >= {"symbol", "exchanges", "at", "price", "bins", "clusters", "synthetic"}
