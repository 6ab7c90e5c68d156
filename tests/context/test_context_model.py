"""The context figures themselves (pure): no lookahead, totals and OI-weighted means, realized liquidations per
exchange, and the replayed datasets' own liquidations; the footer states what the map was built from."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bot.market.sim import synthetic_series
from bot.model.build import build_map
from bot.model.context import LiquidationPrints
from bot.model.market_context import LiveExtras, build_context, prints_from_series
from bot.render.theme import basis_text

HOUR = 3_600_000
DAY = 24 * HOUR
END = 1_780_000_000_000 // HOUR * HOUR


def series(exchange: str, seed: int = 7):  # type: ignore[no-untyped-def]
    return synthetic_series(exchange, "BTC/USDT:USDT", "5m", END, 2 * 288, seed)


def test_figures_are_read_at_the_maps_instant_never_after() -> None:
    a, b = series("binanceusdm"), series("okx", 8)
    at = END - 6 * HOUR
    ctx = build_context([a, b], window="24h", at_ms=at, span_ms=DAY)
    for s, c in zip((a, b), ctx.exchanges, strict=True):
        k = int(np.searchsorted(s.oi_timestamp, at, side="right")) - 1
        j = int(np.searchsorted(s.oi_timestamp, at - DAY, side="right")) - 1
        assert c.oi_usd == pytest.approx(float(s.oi_usd[k]))
        assert c.oi_change_pct == pytest.approx((float(s.oi_usd[k]) / float(s.oi_usd[j]) - 1) * 100)
        f = int(np.searchsorted(s.funding_timestamp, at, side="right")) - 1
        assert c.funding_rate == pytest.approx(float(s.funding_rate[f])) and c.funding_interval_h == 8
    later = build_context([a.upto(at), b.upto(at)], window="24h", at_ms=at, span_ms=DAY)
    assert later == ctx  # what came after ``at`` changes nothing
    t = ctx.total
    oi = [c.oi_usd or 0.0 for c in ctx.exchanges]
    assert t.oi_usd == pytest.approx(sum(oi))
    rates = [c.funding_rate or 0.0 for c in ctx.exchanges]
    assert t.funding_rate == pytest.approx(float(np.average(rates, weights=oi)))
    assert t.funding_annualised_pct == pytest.approx(t.funding_rate * 3 * 365 * 100)


def test_extras_and_realized_liquidations_per_exchange() -> None:
    a, b = series("binanceusdm"), series("bybit", 9)
    prints = LiquidationPrints(
        time_ms=np.array([END - 3 * HOUR, END - 2 * HOUR, END - HOUR], dtype=np.int64),
        price=np.array([60_000.0, 61_000.0, 59_000.0]), usd=np.array([1e6, 2e6, 4e6]),
        is_long=np.array([True, False, True]), exchanges=("binanceusdm", "bybit"), lower_bound=True,
        exchange_ix=np.array([0, 1, 1], dtype=np.int64),
    )
    extras = {"bybit": LiveExtras(long_short_ratio=2.0, predicted_funding_rate=0.0003)}
    ctx = build_context([a, b], window="24h", at_ms=END, span_ms=DAY, prints=prints, extras=extras)
    bn, bb = ctx.exchanges
    assert (bn.realized_long_usd, bn.realized_short_usd) == (1e6, 0.0)
    assert (bb.realized_long_usd, bb.realized_short_usd) == (4e6, 2e6)
    assert (ctx.total.realized_long_usd, ctx.total.realized_short_usd) == (5e6, 2e6)
    assert ctx.realized_lower_bound and ctx.realized_source == "stream"
    assert bn.long_short_ratio is None and bb.long_short_ratio == 2.0
    assert ctx.total.long_short_ratio == 2.0  # the mean of what is known
    unknown = build_context([a, b], window="24h", at_ms=END, span_ms=DAY)
    assert unknown.total.realized_long_usd is None and unknown.exchanges[0].realized_short_usd is None


def test_replayed_liquidations_are_counted_up_to_now_only() -> None:
    s = series("okx")
    t = np.array([END - 2 * HOUR, END - HOUR, END + HOUR], dtype=np.int64)
    s = replace(s, synthetic=False, liq_timestamp=t, liq_side=np.array([1, -1, 1], dtype=np.int8),
                liq_price=np.array([60_000.0, 62_000.0, 58_000.0]), liq_amount=np.array([1.0, 2.0, 100.0]))
    prints = prints_from_series([s], END - DAY, END)
    assert prints is not None and prints.source == "dataset" and prints.n == 2  # the one after END is not seen
    assert prints.totals() == (60_000.0, 124_000.0)
    none = replace(s, liq_timestamp=np.zeros(0, np.int64), liq_side=np.zeros(0, np.int8), liq_price=np.zeros(0),
                   liq_amount=np.zeros(0))
    assert prints_from_series([none], END - DAY, END) is None  # no liquidation history: unknown
    simulated = prints_from_series([series("okx")], END - DAY, END)  # the synthetic market prints its own
    assert simulated is not None and simulated.source == "simulated" and simulated.n > 0


def test_the_footer_says_what_the_map_was_built_from() -> None:
    with_oi = build_map([series("binanceusdm")], window="24h")
    no_oi = build_map([replace(series("binanceusdm"), oi_timestamp=np.zeros(0, np.int64), oi_usd=np.zeros(0))],
                      window="24h")
    assert with_oi.oi_share == pytest.approx(1.0) and no_oi.oi_share == 0.0
    assert basis_text(with_oi.oi_share) == "modelled from open interest"
    assert basis_text(no_oi.oi_share) == "modelled from traded volume (no open-interest data)"
    assert basis_text(0.75) == "modelled from open interest (25% of candles from traded volume)"
    assert no_oi.to_json()["modelled_from_oi_share"] == 0.0
