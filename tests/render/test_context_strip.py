"""The chart frame: the context strip under both charts, the footer's statement of what the map was built from,
and colour-bar tick labels that never run into each other (they used to: ``$400k$837k``, ``$9M$20.1M``)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from bot.market.sim import synthetic_series
from bot.model.build import build_map
from bot.model.context import LiquidationPrints
from bot.model.market_context import build_context
from bot.render.heatmap import build_heatmap_figure
from bot.render.liqmap_chart import build_map_figure
from bot.render.palette import HeatNorm, add_colorbar
from bot.render.theme import new_figure, texts_by_gid

HOUR = 3_600_000
END = 1_780_000_000_000 // HOUR * HOUR


def series():  # type: ignore[no-untyped-def]
    return synthetic_series("binanceusdm", "BTC/USDT:USDT", "5m", END, 2 * 288, 3)


@pytest.mark.parametrize("build", [build_heatmap_figure, build_map_figure])
def test_context_strip_and_footer_on_both_charts(build) -> None:  # type: ignore[no-untyped-def]
    s = series()
    m = build_map([s], window="24h")
    prints = LiquidationPrints(np.array([END - HOUR], np.int64), np.array([m.price]), np.array([3.2e6]),
                               np.array([True]), ("binanceusdm",))
    m = replace(m, context=build_context([s], window="24h", at_ms=m.at, span_ms=24 * HOUR, prints=prints))
    fig = build(m)
    fig.canvas.draw()
    drawn = sorted(texts_by_gid(fig, "context"), key=lambda t: t.get_window_extent().x0)
    strip = [t.get_text() for t in drawn]
    assert strip[0].startswith("OI $") and any("funding Binance " in t and "(8h) ≈" in t and "%/yr" in t for t in strip)
    assert any("longs $3.2M" in t for t in strip) and any("shorts $0" in t for t in strip)
    boxes = [t.get_window_extent() for t in drawn]
    assert all(a.x1 <= b.x0 + 1 for a, b in pairwise(boxes))  # one row, left to right
    assert max(b.x1 for b in boxes) <= fig.bbox.width  # inside the image
    [footer] = [t.get_text() for t in texts_by_gid(fig, "estimate")]
    assert footer == "ESTIMATE · modelled from open interest, not exchange data"
    no_oi = build_map([replace(s, oi_timestamp=np.zeros(0, np.int64), oi_usd=np.zeros(0))], window="24h")
    [footer] = [t.get_text() for t in texts_by_gid(build(no_oi), "estimate")]
    assert "traded volume (no open-interest data)" in footer


@pytest.mark.parametrize("vmax", [837e3, 20.1e6, 1e6, 5.5e6, 950.0, 123_456.0, 3.3e9])
def test_colour_bar_tick_labels_never_overlap(vmax: float) -> None:
    fig = new_figure()
    add_colorbar(fig, HeatNorm(vmax=vmax), "default", (0.80, 0.905, 0.17, 0.035), "caption")
    fig.canvas.draw()
    ticks = texts_by_gid(fig, "colorbar-tick")
    boxes = sorted((t.get_window_extent() for t in ticks), key=lambda b: b.x0)
    assert len(ticks) >= 2  # the saturation value and at least one more
    assert all(a.x1 < b.x0 for a, b in pairwise(boxes)), [t.get_text() for t in ticks]
    assert len({t.get_text() for t in ticks}) == len(ticks)
