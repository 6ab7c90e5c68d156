"""Alert texts: approach with score and reasons, sweep follow-up with estimated USD, SYNTHETIC label."""

from __future__ import annotations

from bot.alerts.messages import approach_text, sweep_text


def test_approach_text_has_zone_usd_distance_score_reasons() -> None:
    text = approach_text(
        symbol="BTC/USDT:USDT",
        window="24h",
        side="long",
        low=64_100,
        high=64_500,
        usd=412e6,
        price=64_900,
        distance_pct=0.62,
        score=72,
        reasons=["18% of pending longs", "funding"],
        synthetic=True,
    )
    assert "BTCUSDT" in text and "64.1k–64.5k" in text and "$412M" in text and "0.62%" in text
    assert "Squeeze risk 72/100: 18% of pending longs; funding" in text
    assert "below" in text and "SYNTHETIC" in text


def test_sweep_text_estimates_liquidated_usd() -> None:
    text = sweep_text(
        symbol="BTC/USD:BTC",
        window="12h",
        side="short",
        low=70_000,
        high=70_400,
        usd=2.5e9,
        price=70_600,
        synthetic=False,
    )
    assert "BTCUSD" in text and "rose through" in text and "Estimated $2.5B of shorts liquidated" in text
    assert "SYNTHETIC" not in text
