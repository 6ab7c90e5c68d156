"""The forecast layer: first-passage maths by hand, invariants, no lookahead, and the turnover leverage mix."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from bot.model.build import build_map
from bot.model.forecast import (
    DEFAULT_FORECAST,
    ForecastParams,
    forecast_liquidations,
    normal_sf,
    opening_rate,
    parkinson_sigma,
    reach_before_close,
    reach_probability,
    turnover_weights,
)
from tests.model.series import random_series

HOUR = 3_600_000


def test_normal_sf_matches_math_erfc() -> None:
    z = np.linspace(-8.0, 8.0, 2001)
    expected = np.array([0.5 * math.erfc(v / math.sqrt(2.0)) for v in z])
    np.testing.assert_allclose(normal_sf(z), expected, atol=2e-7)


def test_reach_probability_by_hand() -> None:
    sigma = 0.01 / math.sqrt(HOUR)  # 1% per sqrt(hour)
    # 2% within 4h: sigma*sqrt(T) = 2%, so P = 2 * (1 - Phi(1)) = erfc(1/sqrt 2) = 0.3173.
    assert reach_probability(np.array([0.02]), sigma, 4 * HOUR)[0] == pytest.approx(math.erfc(1 / math.sqrt(2)), 1e-6)
    assert reach_probability(np.array([-0.02]), sigma, 4 * HOUR)[0] == pytest.approx(0.3173, abs=1e-4)
    p = reach_probability(np.array([0.0, 0.005, 0.01, 0.05]), sigma, 24 * HOUR)
    assert p[0] == 1.0 and np.all(np.diff(p) < 0) and p[-1] > 0
    assert reach_probability(np.array([0.01]), sigma, 0)[0] == 0.0


def test_reach_before_close_matches_quadrature_of_first_passage_density() -> None:
    sigma, horizon, half_life = 0.01 / math.sqrt(HOUR), 24 * HOUR, 24.0
    lam = math.log(2.0) / (half_life * HOUR)
    tau = np.linspace(1.0, horizon, 400_001)
    for d in (0.002, 0.01, 0.04):
        a = d / sigma
        density = a / np.sqrt(2 * math.pi * tau**3) * np.exp(-(a**2) / (2 * tau))  # first passage of BM to a
        expected = float(np.trapezoid(density * np.exp(-lam * tau), tau))
        assert reach_before_close(np.array([d]), sigma, horizon, half_life)[0] == pytest.approx(expected, rel=2e-4)
    far = np.array([0.0, 0.01, 0.05])
    np.testing.assert_allclose(reach_before_close(far, sigma, horizon, 1e12), reach_probability(far, sigma, horizon))
    assert reach_before_close(np.array([5.0]), sigma, horizon, 0.01)[0] == 0.0  # no overflow far out


def test_parkinson_sigma_by_hand_and_no_lookahead() -> None:
    s = random_series(3, n=400)
    at = int(s.timestamp[300] + s.timeframe_ms)
    lo, hi = s.low[277:301], s.high[277:301]  # the 24 candles closed in the last 2h (sigma_lookback_h)
    expected = math.sqrt(float(np.mean(np.log(hi / lo) ** 2)) / (4 * math.log(2)) / s.timeframe_ms)
    assert parkinson_sigma(s, at) == pytest.approx(expected, rel=1e-12)
    day = replace(DEFAULT_FORECAST, sigma_lookback_h=24.0)
    lo, hi = s.low[13:301], s.high[13:301]  # the 288 candles closed in the last 24h
    expected = math.sqrt(float(np.mean(np.log(hi / lo) ** 2)) / (4 * math.log(2)) / s.timeframe_ms)
    assert parkinson_sigma(s, at, day) == pytest.approx(expected, rel=1e-12)
    future = replace(s, high=np.where(s.timestamp >= at, s.high * 1.1, s.high))
    assert parkinson_sigma(future, at) == parkinson_sigma(s, at)
    assert opening_rate(future, at) == opening_rate(s, at)


def test_turnover_weights_favour_short_lived_levels() -> None:
    stock = np.array([0.5, 0.3, 0.2])
    distance = np.array([0.10, 0.02, 0.004])  # 10x, 50x, 250x-like offsets
    flow = turnover_weights(stock, distance, 0.01 / math.sqrt(HOUR), 24.0)
    assert flow.sum() == pytest.approx(1.0)
    assert flow[2] > stock[2] and flow[0] < stock[0]
    assert np.all(np.diff(flow / stock) > 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_forecast_invariants_and_no_lookahead(seed: int) -> None:
    s = random_series(seed, n=600)
    at = int(s.timestamp[400] + s.timeframe_ms)
    m = build_map([s], window="24h", at_ms=at)
    f = forecast_liquidations(m, [s], 24 * HOUR)
    assert f.total_usd.shape == m.bin_price.shape
    for part in (f.long_usd, f.short_usd, f.pending_usd, f.new_usd):
        assert np.all(part >= 0) and np.all(np.isfinite(part))
    np.testing.assert_allclose(f.long_usd + f.short_usd, f.pending_usd + f.new_usd, rtol=1e-9)
    # Open positions can at most all be liquidated; new ones at most what opens during the horizon.
    assert f.pending_usd.sum() <= (m.long_usd.sum() + m.short_usd.sum()) * (1 + 1e-9)
    assert 0 < f.new_usd.sum() <= (f.rate_long + f.rate_short) * 24 * HOUR
    # Longs are liquidated below their entry and shorts above: on average below / above today's price.
    assert np.average(m.bin_price, weights=f.long_usd) < m.price < np.average(m.bin_price, weights=f.short_usd)
    moved = replace(s, high=np.where(s.timestamp >= at, s.high * 1.05, s.high),
                    low=np.where(s.timestamp >= at, s.low * 0.9, s.low),
                    oi_usd=np.where(s.oi_timestamp > at, s.oi_usd * 4, s.oi_usd))
    f2 = forecast_liquidations(build_map([moved], window="24h", at_ms=at), [moved], 24 * HOUR)
    np.testing.assert_array_equal(f2.total_usd, f.total_usd)


def test_bankruptcy_shift_moves_levels_outward() -> None:
    s = random_series(5, n=400)
    m = build_map([s], window="24h")
    at_trigger = forecast_liquidations(m, [s], 6 * HOUR, fparams=replace(DEFAULT_FORECAST, record_at_bankruptcy=False))
    at_bk = forecast_liquidations(m, [s], 6 * HOUR)

    def mean_distance(usd: np.ndarray) -> float:
        return float(np.average(np.abs(m.bin_price - m.price), weights=usd))

    assert mean_distance(at_bk.long_usd) > mean_distance(at_trigger.long_usd)
    assert mean_distance(at_bk.short_usd) > mean_distance(at_trigger.short_usd)


def test_forecast_of_empty_history_is_zero_and_params_validate() -> None:
    s = random_series(1, n=50)
    m = build_map([s], window="24h", at_ms=int(s.timestamp[0]))  # nothing closed yet
    f = forecast_liquidations(m, [s], 24 * HOUR)
    assert f.total_usd.sum() == 0.0
    with pytest.raises(ValueError, match="time_nodes"):
        ForecastParams(time_nodes=0)
