"""Squeeze-risk score: bounded 0..100, monotone in its inputs, reasons name what drove it."""

from __future__ import annotations

import numpy as np

from bot.alerts.rules import ClusterArrays
from bot.alerts.score import MarketContext, score_clusters


def two() -> ClusterArrays:
    return ClusterArrays(
        is_long=np.array([True, False]),
        low=np.array([99_000.0, 101_000.0]),
        high=np.array([99_500.0, 101_500.0]),
        usd=np.array([100e6, 100e6]),
        side_share=np.array([0.2, 0.2]),
    )


def test_bounds_and_funding_picks_the_crowded_side() -> None:
    ctx = MarketContext(400e6, 400e6, oi_usd=2e9, funding_rate=3e-4, oi_change_pct=5.0)
    s = score_clusters(two(), np.array([0.5, 0.5]), ctx)
    assert ((s.score >= 0) & (s.score <= 100)).all()
    assert s.score[0] > s.score[1]  # positive funding: longs crowded
    assert any("longs crowded" in r for r in s.reasons[0])
    assert not any("crowded" in r for r in s.reasons[1])
    assert any("of pending longs" in r for r in s.reasons[0])
    assert any("OI +5.0%" in r for r in s.reasons[0])


def test_closer_and_bigger_score_higher() -> None:
    ctx = MarketContext(1e9, 1e9)
    near = score_clusters(two(), np.array([0.1, 0.1]), ctx).score
    far = score_clusters(two(), np.array([2.5, 2.5]), ctx).score
    assert (near > far).all()
    big = two()
    big = ClusterArrays(big.is_long, big.low, big.high, big.usd * 3, big.side_share)
    assert (
        score_clusters(big, np.array([1.0, 1.0]), ctx).score > score_clusters(two(), np.array([1.0, 1.0]), ctx).score
    ).all()


def test_unknown_inputs_contribute_nothing_and_max_is_100() -> None:
    nan = MarketContext(0.0, 0.0)
    s = score_clusters(two(), np.array([5.0, 5.0]), nan)
    assert s.score.tolist() == [0, 0] and s.reasons == [[], []]
    full = MarketContext(100e6, 100e6, oi_usd=1e9, funding_rate=-1e-3, oi_change_pct=50.0)
    s = score_clusters(two(), np.array([0.0, 0.0]), full)
    assert s.score[1] == 100 and s.score[0] == 85
