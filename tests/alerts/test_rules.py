"""Pure alert rules: trigger, filters, hysteresis re-arm, cooldown, one alert per subscription, sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from bot.alerts.rules import (
    NEVER,
    ClusterArrays,
    SubscriptionArrays,
    cluster_distance_pct,
    evaluate_approach,
    evaluate_sweeps,
    side_bits,
)

PRICE = 100_000.0


def clusters() -> ClusterArrays:
    """A long cluster 0.5% below price, a short one 2% above, a small long one 0.2% below."""
    return ClusterArrays(
        is_long=np.array([True, False, True]),
        low=np.array([99_000.0, 102_000.0, 99_700.0]),
        high=np.array([99_500.0, 103_000.0, 99_800.0]),
        usd=np.array([200e6, 300e6, 5e6]),
        side_share=np.array([0.30, 0.40, 0.01]),
    )


def subs(
    prox: list[float],
    *,
    min_usd: float = 0.0,
    min_share: float = 0.0,
    sides: str = "both",
    cooldown_ms: int = 0,
    last: int = NEVER,
) -> SubscriptionArrays:
    n = len(prox)
    return SubscriptionArrays(
        proximity_pct=np.array(prox, dtype=float),
        min_usd=np.full(n, min_usd),
        min_share=np.full(n, min_share),
        side_mask=np.full(n, side_bits(sides), dtype=np.int64),
        cooldown_ms=np.full(n, cooldown_ms, dtype=np.int64),
        last_alert_ms=np.full(n, last, dtype=np.int64),
    )


def test_distance_is_near_edge_and_zero_inside() -> None:
    c = clusters()
    d = cluster_distance_pct(c, PRICE)
    assert d == pytest.approx([0.5, 2.0, 0.2])
    assert cluster_distance_pct(c, 99_200.0)[0] == 0.0  # inside the long cluster
    with pytest.raises(ValueError, match="positive"):
        cluster_distance_pct(c, float("nan"))


def test_trigger_picks_nearest_qualifying_cluster_once_per_subscription() -> None:
    c = clusters()
    s = subs([0.1, 0.3, 1.0, 3.0])
    r = evaluate_approach(s, c, np.ones((4, 3), bool), PRICE, 1_000)
    assert r.fire.tolist() == [
        [False, False, False],  # 0.1% reaches nothing
        [False, False, True],  # the small long one at 0.2%
        [False, False, True],  # nearest wins
        [False, False, True],
    ]
    assert not r.armed[1:, 2].any() and r.armed[1:, :2].all()


def test_size_share_and_side_filters() -> None:
    c = clusters()
    assert np.flatnonzero(
        evaluate_approach(subs([1.0], min_usd=50e6), c, np.ones((1, 3), bool), PRICE, 0).fire[0]
    ).tolist() == [0]
    assert np.flatnonzero(
        evaluate_approach(subs([3.0], min_share=0.35), c, np.ones((1, 3), bool), PRICE, 0).fire[0]
    ).tolist() == [1]
    assert np.flatnonzero(
        evaluate_approach(subs([3.0], sides="short"), c, np.ones((1, 3), bool), PRICE, 0).fire[0]
    ).tolist() == [1]
    assert not evaluate_approach(subs([0.4], sides="short"), c, np.ones((1, 3), bool), PRICE, 0).fire.any()


def test_disarmed_pair_does_not_fire_and_rearms_beyond_twice_proximity() -> None:
    c = clusters()
    s = subs([0.6], min_usd=50e6)
    armed = np.array([[False, True, True]])
    r = evaluate_approach(s, c, armed, PRICE, 0)
    assert not r.fire.any()  # the only qualifying cluster is disarmed
    assert not r.rearmed[0, 0]
    # price moves up: long cluster now 1.1% away (< 2 x 0.6%): still disarmed
    r = evaluate_approach(s, c, armed, 99_500.0 / (1 - 0.011), 0)
    assert not r.armed[0, 0]
    # 1.3% away (> 1.2%): re-armed, but does not fire in the same tick
    r = evaluate_approach(s, c, armed, 99_500.0 / (1 - 0.013), 0)
    assert r.armed[0, 0] and r.rearmed[0, 0] and not r.fire.any()


def test_cooldown_blocks_until_elapsed() -> None:
    c = clusters()
    blocked = evaluate_approach(subs([1.0], cooldown_ms=60_000, last=10_000), c, np.ones((1, 3), bool), PRICE, 69_999)
    assert not blocked.fire.any()
    ok = evaluate_approach(subs([1.0], cooldown_ms=60_000, last=10_000), c, np.ones((1, 3), bool), PRICE, 70_000)
    assert ok.fire.any()


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_approach(subs([1.0]), clusters(), np.ones((2, 3), bool), PRICE, 0)


def test_empty_inputs() -> None:
    empty = ClusterArrays(np.zeros(0, bool), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    r = evaluate_approach(subs([1.0]), empty, np.ones((1, 0), bool), PRICE, 0)
    assert r.fire.shape == (1, 0)


def test_sweeps_long_and_short_and_never_alerted() -> None:
    is_long = np.array([True, True, False, False, True])
    low = np.array([99_000.0, 99_000.0, 102_000.0, 102_000.0, np.nan])
    high = np.array([99_500.0, 99_500.0, 103_000.0, 103_000.0, np.nan])
    swept = evaluate_sweeps(is_long, low, high, path_low=98_900.0, path_high=102_900.0)
    assert swept.tolist() == [True, True, False, False, False]
    swept = evaluate_sweeps(is_long, low, high, path_low=99_100.0, path_high=103_000.0)
    assert swept.tolist() == [False, False, True, True, False]


def test_side_bits_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="long, short or both"):
        side_bits("up")
