"""The next-hour layer (``bot.model.openings``): its expected hour from candles closed by ``t`` only, its formula,
its mass, and that it never enters the pending book, the clusters or the alerts."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bot.backtest_range import range_step
from bot.model.build import build_map
from bot.model.grid import grid_around
from bot.model.openings import HOUR_MS, expected_hour, next_hour_layer
from bot.model.params import DEFAULT_PARAMS, ModelParams
from tests.model.series import T0, random_series

DAY = 24 * HOUR_MS


def hourly(volume: np.ndarray, price: float = 60_000.0, rel_range: float = 0.01):
    """Flat 1h candles at ``price`` with the given volumes (BTC) and a high-low range of ``rel_range``."""
    s = random_series(1, n=volume.size, tf_ms=HOUR_MS, with_oi=False)
    n = volume.size
    close = np.full(n, price)
    return dataclasses.replace(s, open=close.copy(), close=close, high=close * (1 + rel_range / 2),
                               low=close * (1 - rel_range / 2), volume=volume.astype(np.float64))


def test_expected_hour_is_the_geometric_mean_of_the_last_hour_the_day_and_the_hour_of_day() -> None:
    days = 8
    at = T0 + days * DAY  # candles open from T0 on; the coming hour opens at `at`
    volume = np.full(days * 24, 10.0)
    open_time = T0 + HOUR_MS * np.arange(volume.size)
    volume[(open_time // HOUR_MS) % 24 == (at // HOUR_MS) % 24] = 40.0  # this hour of day is busy
    volume[-1] = 20.0  # the last hour
    s = hourly(volume, rel_range=0.01)
    hour = expected_hour(s, at)
    assert hour is not None
    week = volume[-7 * 24:] * 60_000.0
    factor = 40.0 * 60_000.0 / week.mean()
    day_mean = volume[-24:].sum() * 60_000.0 / 24
    assert hour.notional_usd == pytest.approx(math.sqrt(20.0 * 60_000.0 * day_mean * factor))
    assert hour.half_range == pytest.approx(0.005)


def test_expected_hour_reads_no_candle_after_t() -> None:
    s = random_series(3, n=400, tf_ms=HOUR_MS, with_oi=False)
    at = int(s.timestamp[300] + HOUR_MS)
    assert expected_hour(s, at) == expected_hour(s.upto(at), at)
    later = dataclasses.replace(s, volume=np.where(s.timestamp >= at, 1e9, s.volume))
    assert expected_hour(later, at) == expected_hour(s, at)


def test_the_layer_holds_the_opened_share_of_the_expected_hour_half_per_side() -> None:
    s = hourly(np.full(48, 10.0))
    at = int(s.timestamp[-1] + HOUR_MS)
    grid = grid_around(60_000.0, DEFAULT_PARAMS.range_pct, DEFAULT_PARAMS.n_bins)
    hour = expected_hour(s, at)
    assert hour is not None
    longs, shorts = next_hour_layer(s, grid, 60_000.0, at, DEFAULT_PARAMS, deposit_per_proxy=1.0)
    expected = DEFAULT_PARAMS.volume_oi_share * hour.notional_usd * 0.5
    assert longs.sum() == pytest.approx(expected) and shorts.sum() == pytest.approx(expected)
    mean_long, mean_short = (np.average(grid.centres, weights=w) for w in (longs, shorts))
    assert mean_long < 60_000.0 * 0.99 and mean_short > 60_000.0 * 1.01  # levels one leverage offset beyond entry
    twice, _ = next_hour_layer(s, grid, 60_000.0, at, DEFAULT_PARAMS, deposit_per_proxy=2.0)
    np.testing.assert_allclose(twice, 2 * longs)  # OI's scale per USD of the volume proxy
    off, _ = next_hour_layer(s, grid, 60_000.0, at, ModelParams(next_hour_openings=0.0), deposit_per_proxy=1.0)
    assert not off.any()


@pytest.mark.parametrize("with_oi", [False, True])
def test_the_layer_stays_out_of_the_book_clusters_and_image_data(with_oi: bool) -> None:
    s = random_series(5, n=600, tf_ms=300_000, with_oi=with_oi)
    on = build_map([s], window="24h")
    off = build_map([s], window="24h", params=ModelParams(next_hour_openings=0.0))
    np.testing.assert_array_equal(on.long_usd, off.long_usd)
    np.testing.assert_array_equal(on.heat_short, off.heat_short)
    assert on.clusters == off.clusters
    assert on.next_long_usd.shape == on.long_usd.shape and on.next_long_usd.sum() > 0
    assert not off.next_long_usd.any()
    bins = on.to_json()["bins"]
    assert bins["next_hour_long_usd"] == on.next_long_usd.tolist() and "next_hour_short_usd" in bins


def test_the_range_score_reads_the_book_and_the_layer() -> None:
    s = random_series(6, n=600, tf_ms=300_000, with_oi=False)
    m = build_map([s], window="24h")
    low, high = m.price * 0.99, m.price * 1.01
    step = range_step(m, (low, high), (1.0, 1.0), HOUR_MS, 1e9)
    inside = (m.bin_price >= low) & (m.bin_price <= m.price)
    assert step.predicted_long == pytest.approx(float((m.long_usd + m.next_long_usd)[inside].sum()))
    bare = range_step(dataclasses.replace(m, next_long_usd=np.zeros(0), next_short_usd=np.zeros(0)),
                      (low, high), (1.0, 1.0), HOUR_MS, 1e9)
    assert bare.predicted_long == pytest.approx(float(m.long_usd[inside].sum()))
    assert bare.predicted_long < step.predicted_long
