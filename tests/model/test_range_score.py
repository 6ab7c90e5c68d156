"""The traded-range score's statistics and bar rules on hand-computed cases (no shared data)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bot.backtest_range import FEED_GAP_MS, BarRecord, Candles, EventRecord, range_step
from bot.errors import LiqmapError
from bot.market.replay import LiquidationBars
from bot.model.build import build_map
from bot.model.range_score import RangeStep, mass_between, observations, score_range
from bot.model.scoring import partial_spearman, spearman
from tests.model.series import T0, random_series

H = 3_600_000


def test_partial_spearman_by_hand() -> None:
    """One binary control: regressing ranks on it subtracts each group's mean rank.

    a ranks 0..5 -> residuals (-1, 0, 1, -1, 0, 1); b ranks (0, 2, 1, 3, 5, 4) -> (-1, 1, 0, -1, 1, 0);
    their correlation is (1 + 1) / (2 * 2) = 0.5, while the plain Spearman of a and b is 0.886: most of what a
    and b share is the control.
    """
    control = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = np.array([10.0, 30.0, 20.0, 40.0, 60.0, 50.0])
    assert partial_spearman(a, b, control) == pytest.approx(0.5)
    assert spearman(a, b) == pytest.approx(np.corrcoef(np.arange(6), [0, 2, 1, 3, 5, 4])[0, 1])
    assert partial_spearman(a, -b, control) == pytest.approx(-0.5)


def test_partial_spearman_is_zero_when_the_prediction_only_restates_the_control() -> None:
    rng = np.random.default_rng(3)
    reach = rng.uniform(0.0, 0.02, 500)
    notional = rng.uniform(1e9, 5e9, 500)
    realized = 1e6 * reach * rng.lognormal(0.0, 1.0, 500)
    controls = np.column_stack([reach, notional])
    # a strictly monotone function of reach: nothing of it is left once reach is accounted for
    assert partial_spearman(np.sqrt(reach) * 7.0 + 3.0, realized, controls) == 0.0
    # reach plus a little noise that is unrelated to the outcome: ~0
    noisy = reach + rng.normal(0.0, 0.001, 500)
    assert abs(partial_spearman(noisy, realized, controls)) < 0.1
    assert spearman(noisy, realized) > 0.3  # while the plain Spearman rides on reach


def test_partial_spearman_is_positive_when_the_prediction_knows_more_than_reach() -> None:
    rng = np.random.default_rng(4)
    m = 600
    reach = rng.uniform(0.0, 0.02, m)
    notional = rng.uniform(1e9, 5e9, m)
    crowd = rng.lognormal(0.0, 1.0, m)  # positions in the traded range, unrelated to how far price went
    realized = reach * crowd
    predicted = crowd * rng.lognormal(0.0, 0.3, m)  # a noisy view of the crowd only
    part = partial_spearman(predicted, realized, np.column_stack([reach, notional]))
    assert part > 0.6
    assert part > spearman(predicted, realized)  # reach was hiding part of the map's information


def test_partial_spearman_undefined_cases() -> None:
    x = np.arange(4.0)
    assert np.isnan(partial_spearman(x, x, np.column_stack([x, x])))  # m < c + 3
    c = np.arange(10.0)
    assert np.isnan(partial_spearman(np.sin(c), c * 2.0, c))  # the outcome is the control: nothing to explain
    assert np.isnan(partial_spearman(np.zeros(0), np.zeros(0), np.zeros((0, 2))))


def test_mass_between_counts_bins_whose_centre_is_inside() -> None:
    centres = np.arange(1.0, 11.0)
    usd = np.arange(1.0, 11.0) * 10.0
    assert mass_between(centres, usd, 2.5, 5.0) == pytest.approx(30.0 + 40.0 + 50.0)
    assert mass_between(centres, usd, 3.0, 3.0) == pytest.approx(30.0)
    assert mass_between(centres, usd, 5.2, 5.8) == 0.0


def _step(t: int, pl: float, ps: float, rl: float, rs: float, low: float = 99.0, high: float = 102.0) -> RangeStep:
    return RangeStep(t, 100.0, H, low, high, pl, ps, rl, rs, 1e9 + t)


def test_observations_and_score_range() -> None:
    steps = [_step(0, 1.0, 2.0, 10.0, 20.0, 98.0, 101.0), _step(1, 3.0, 4.0, 30.0, 40.0)]
    obs = observations(steps)
    assert list(obs["predicted"]) == [1.0, 3.0, 2.0, 4.0]  # longs first, then shorts
    assert list(obs["realized"]) == [10.0, 30.0, 20.0, 40.0]
    assert list(obs["reach"]) == pytest.approx([0.02, 0.01, 0.01, 0.02])
    score = score_range(steps)
    assert score.n == 4 and score.spearman_map == pytest.approx(1.0)
    assert np.isnan(score.partial)  # 4 observations, 2 controls: too few
    j = steps[0].to_json()
    assert j["reach_long"] == pytest.approx(0.02) and j["reach_short"] == pytest.approx(0.01)
    assert {"t", "p", "low", "high", "predicted_long_usd", "realized_short_usd", "notional_24h_usd"} <= j.keys()
    assert score_range([]).to_json()["range_n"] == 0


def test_range_step_reads_the_map_inside_the_traded_range() -> None:
    series = random_series(8, n=400)
    t = int(series.timestamp[300])
    liq_map = build_map([series], window="12h", at_ms=t)
    p = liq_map.price
    low, high = p * 0.99, p * 1.004
    s = range_step(liq_map, (low, high), (5.0, 7.0), H, 2e9)
    x = liq_map.bin_price
    longs, shorts = liq_map.long_usd + liq_map.next_long_usd, liq_map.short_usd + liq_map.next_short_usd  # book + layer
    assert s.predicted_long == pytest.approx(longs[(x >= low) & (x <= p)].sum())
    assert s.predicted_short == pytest.approx(shorts[(x >= p) & (x <= high)].sum())
    assert s.predicted_long > 0 and s.realized_long == 5.0 and s.reach_long == pytest.approx(0.01)
    # a bar that gapped above p still starts trading from p: the long range is [p, p], reach 0
    up = range_step(liq_map, (p * 1.001, p * 1.01), (0.0, 1.0), H, 2e9)
    assert up.low == p and up.reach_long == 0.0


def test_a_bar_needs_all_its_candles() -> None:
    series = random_series(2, n=60)  # 5m candles
    candles = Candles(series, H)
    t = int(series.timestamp[12])
    assert candles.bar_range(t) == (
        pytest.approx(float(series.low[12:24].min())), pytest.approx(float(series.high[12:24].max()))
    )
    keep = np.ones(series.n, dtype=bool)
    keep[17] = False  # one 5m candle of that hour missing
    holed = replace(
        series, timestamp=series.timestamp[keep], open=series.open[keep], high=series.high[keep],
        low=series.low[keep], close=series.close[keep], volume=series.volume[keep],
        taker_buy_volume=series.taker_buy_volume[keep],
    )
    assert Candles(holed, H).bar_range(t) is None
    assert Candles(holed, H).bar_range(t + H) is not None
    assert candles.bar_range(int(series.timestamp[-1])) is None  # runs past the last candle
    with pytest.raises(LiqmapError, match="whole number"):
        Candles(series, 7 * 60_000)


def test_trailing_notional_is_the_last_24h_of_closed_candles() -> None:
    series = random_series(2, n=400)
    candles = Candles(series, H)
    t = int(series.timestamp[350])  # candles 62..349 closed in (t - 24h, t]
    expected = float((series.volume * series.close)[62:350].sum())
    assert candles.trailing_notional(t) == pytest.approx(expected)
    blind = replace(series, volume=np.full(series.n, np.nan))
    assert np.isnan(Candles(blind, H).trailing_notional(t))


def _events(times: list[int], sides: list[int], usd: list[float]) -> EventRecord:
    series = random_series(1, n=10)
    ts = np.asarray(times, dtype=np.int64)
    return EventRecord(
        replace(
            series, liq_timestamp=ts, liq_side=np.asarray(sides, dtype=np.int8), liq_price=np.full(ts.size, 100.0),
            liq_amount=np.asarray(usd) / 100.0,
        ),
        H,
    )


def test_event_record_skips_bars_in_feed_gaps_and_outside_coverage() -> None:
    gap_from, gap_to = T0 + 5 * H + 60_000, T0 + 5 * H + 60_000 + FEED_GAP_MS + 1  # a silence just over 12 h
    rec = _events(
        [T0 + 1_000, T0 + H, T0 + H + 1, T0 + 2 * H + 5, gap_from, gap_to, T0 + 25 * H],
        [1, 1, -1, -1, 1, 1, -1],
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    )
    assert rec.realized(T0) is None  # starts before the feed's first record
    assert rec.realized(T0 + H) == (0.0, 4.0)  # (t, t + 1h]: the long stamped at t itself belongs to the bar before
    assert rec.realized(T0 + 2 * H) == (0.0, 8.0)
    assert rec.realized(T0 + 3 * H) == (0.0, 0.0)  # a quiet hour inside coverage is a real zero
    assert rec.realized(T0 + 5 * H) is None  # overlaps the gap's start
    assert rec.realized(T0 + 10 * H) is None  # inside the gap
    assert rec.realized(T0 + 18 * H) is not None  # after it
    assert rec.realized(T0 + 25 * H) is None  # runs past the last record
    short_gap = _events([T0, T0 + FEED_GAP_MS, T0 + 20 * H], [1, 1, 1], [1.0, 1.0, 1.0])
    assert short_gap.realized(T0 + 6 * H) == (0.0, 0.0)  # exactly 12 h of silence is not a gap


def test_bar_record_needs_every_row_of_the_bar() -> None:
    ts = T0 + H * np.array([0, 1, 2, 4, 5], dtype=np.int64)  # hour 3 missing
    bars = LiquidationBars(H, ts, np.array([1.0, 2.0, 3.0, 4.0, np.nan]), np.array([10.0, 20.0, 30.0, 40.0, 50.0]))
    one = BarRecord(bars, H)
    assert one.realized(T0 + H) == (2.0, 20.0)  # the row stamped at t: [t, t + 1h)
    assert one.realized(T0 + 3 * H) is None and one.realized(T0 + 5 * H) is None  # missing row, unknown value
    assert one.realized(T0 + 30 * 60_000) is None  # not on the bars' grid
    two = BarRecord(bars, 2 * H)
    assert two.realized(T0) == (3.0, 30.0)
    assert two.realized(T0 + 2 * H) is None
    with pytest.raises(LiqmapError, match="whole number"):
        BarRecord(bars, 90 * 60_000)
