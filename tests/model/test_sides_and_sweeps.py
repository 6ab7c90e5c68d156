"""Model options tested in docs/model.md ("Variants tried"): both holders of new open interest (``both_sides``,
``side_split``) and positions liquidated inside the candle that opened them (``same_candle_sweep``). Both are off
by default; the vectorised engine, the heatmap and the plain loop must still agree with them on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.book import pending_by_leverage, pending_total
from bot.model.build import build_map
from bot.model.flows import series_flows
from bot.model.grid import grid_around
from bot.model.params import DEFAULT_PARAMS, ModelParams
from bot.model.reference import reference_book
from tests.model.series import random_series

FAST = settings(max_examples=15, deadline=None)


def test_defaults_open_one_side_per_unit_of_new_open_interest() -> None:
    flows = series_flows(random_series(4, n=80), 0, DEFAULT_PARAMS)
    np.testing.assert_allclose(flows.long_share + flows.short_share, 1.0)


def test_both_sides_receive_the_whole_inflow() -> None:
    """Every contract of new open interest has a long and a short holder: with ``both_sides`` each side opens the
    whole inflow (tilted by the aggressor split), so the book holds twice the USD; without the split, exactly the
    inflow on each side."""
    series = random_series(4, n=80)
    one = series_flows(series, 0, DEFAULT_PARAMS)
    both = series_flows(series, 0, replace(DEFAULT_PARAMS, both_sides=True))
    np.testing.assert_allclose(both.long_share + both.short_share, 2.0)
    np.testing.assert_allclose(both.long_share, 2.0 * one.long_share)
    even = series_flows(series, 0, replace(DEFAULT_PARAMS, both_sides=True, side_split=0.0))
    np.testing.assert_allclose(even.long_share, 1.0)
    np.testing.assert_allclose(even.short_share, 1.0)
    grid = grid_around(float(series.close[-1]), 0.6, 2400)
    total_one = pending_total(one, DEFAULT_PARAMS)
    assert pending_total(both, DEFAULT_PARAMS) == pytest.approx(2.0 * total_one, rel=1e-9)
    lv, sv = pending_by_leverage(even, grid, DEFAULT_PARAMS)
    assert lv.sum() > 0 and sv.sum() > 0


def test_side_split_pulls_the_long_share_towards_even() -> None:
    series = random_series(6, n=80)
    full = series_flows(series, 0, DEFAULT_PARAMS).long_share
    half = series_flows(series, 0, replace(DEFAULT_PARAMS, side_split=0.5)).long_share
    np.testing.assert_allclose(half - 0.5, 0.5 * (full - 0.5))


def test_same_candle_sweep_clips_the_levels_inside_their_own_candle() -> None:
    """q = 1: every position also meets its own candle's low (longs) / high (shorts) after opening, so nothing of
    the last candle's cohorts stays inside that candle's range; q = 0.5 keeps half of what q = 1 removes."""
    series = random_series(8, n=60, tf_ms=3_600_000, with_oi=False)  # volume proxy: the candle opens positions
    wide = np.arange(series.n) == series.n - 1  # a 3% last candle: 50x..125x levels fall inside its range
    series = replace(series, high=np.where(wide, series.high * 1.015, series.high),
                     low=np.where(wide, series.low * 0.985, series.low))
    base = replace(DEFAULT_PARAMS, half_life_h=0.0)
    grid = grid_around(float(series.close[-1]), 0.3, 3000)
    last = series_flows(series, series.n - 1, base)  # just the last candle
    inside = (grid.centres > last.low[0]) & (grid.centres < last.high[0])
    maps = {q: pending_by_leverage(last, grid, replace(base, same_candle_sweep=q)) for q in (0.0, 0.5, 1.0)}
    l0, s0 = (x.sum(axis=0) for x in maps[0.0])
    l1, s1 = (x.sum(axis=0) for x in maps[1.0])
    lh, sh = (x.sum(axis=0) for x in maps[0.5])
    assert l0[inside].sum() > 0 and s0[inside].sum() > 0  # high leverage reaches into a 1h candle's range
    # Fully inside bins are empty; the two bins cut by the candle's low / high keep their outside fraction.
    assert l1[inside][1:].sum() == pytest.approx(0.0, abs=1e-9 * l0.sum())
    assert s1[inside][:-1].sum() == pytest.approx(0.0, abs=1e-9 * s0.sum())
    np.testing.assert_allclose(lh, 0.5 * (l0 + l1), rtol=1e-9, atol=1e-9 * l0.max())
    np.testing.assert_allclose(sh, 0.5 * (s0 + s1), rtol=1e-9, atol=1e-9 * s0.max())
    below = grid.centres < last.low[0]
    np.testing.assert_allclose(l1[below], l0[below], rtol=1e-9, atol=1e-9 * l0.max())


@FAST
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    half_life=st.sampled_from([0.0, 2.0]),
    q=st.sampled_from([0.25, 0.5, 1.0]),
    both=st.booleans(),
    split=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_options_keep_the_engine_equal_to_the_loop_and_the_ledger_closed(
    seed: int, n: int, half_life: float, q: float, both: bool, split: float
) -> None:
    params = ModelParams(half_life_h=half_life, same_candle_sweep=q, both_sides=both, side_split=split)
    series = random_series(seed, n=n, tf_ms=3_600_000)  # 1h candles: ranges wide enough to sweep inside them
    flows = series_flows(series, 0, params)
    grid = grid_around(float(series.close[-1]), 0.6, 2400)
    ref = reference_book(flows, grid, params)
    lv, sv = pending_by_leverage(flows, grid, params)
    assert (lv >= 0).all() and (sv >= 0).all()
    scale = max(float(ref.long_usd.max()), float(ref.short_usd.max()), 1.0)
    np.testing.assert_allclose(lv.sum(axis=0), ref.long_usd, rtol=1e-7, atol=1e-9 * scale)
    np.testing.assert_allclose(sv.sum(axis=0), ref.short_usd, rtol=1e-7, atol=1e-9 * scale)
    ledger = ref.deposited - ref.closed - ref.liquidated - ref.decayed
    assert ledger == pytest.approx(ref.pending, rel=1e-9, abs=1e-6)
    assert pending_total(flows, params) == pytest.approx(ref.pending, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_heatmap_last_column_is_the_map_with_the_options_on(q: float) -> None:
    params = replace(DEFAULT_PARAMS, same_candle_sweep=q, both_sides=True, side_split=0.5)
    m = build_map([random_series(2, n=300, tf_ms=3_600_000)], window="24h", params=params)
    assert m.long_usd.sum() > 0 and m.short_usd.sum() > 0
    # Old levels are carried across heat columns at bin resolution, so the two agree to ~1e-4 of the mass.
    assert np.abs(m.heat_long[-1] - m.long_usd).sum() <= 1e-3 * m.long_usd.sum()
    assert np.abs(m.heat_short[-1] - m.short_usd).sum() <= 1e-3 * m.short_usd.sum()
