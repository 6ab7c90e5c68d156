"""Real prints on the heatmap: bubbles at (time, price), area proportional to USD, in the side's colour, only those
in view, with a note naming the feeds (and "lower bound" for a throttled one); nothing when the map has none."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from bot.model.context import LiquidationPrints, empty_prints
from bot.model.types import LiqMap
from bot.render import build_heatmap_figure
from bot.render.heatmap import price_view
from bot.render.theme import LONG, SHORT, texts_by_gid
from tests.render.synthetic import make_map


@pytest.fixture(scope="module")
def base() -> LiqMap:
    return make_map()


def with_prints(m: LiqMap, lower_bound: bool = False) -> LiqMap:
    lo, hi = price_view(m)
    t = int(m.heat_time[-1])
    mid = (lo + hi) / 2
    prints = LiquidationPrints(
        time_ms=np.array([t - 7_200_000, t - 3_600_000, t - 1_800_000, t - 900_000, t - 600_000], dtype=np.int64),
        price=np.array([mid - 100, mid + 100, mid, hi * 10, mid], dtype=np.float64),  # the 4th is out of view
        usd=np.array([4e6, 1e6, 2e6, 9e9, 0.0]),  # the 5th has no size: not drawn
        is_long=np.array([True, False, True, True, False]),
        exchanges=("binanceusdm", "bybit"), lower_bound=lower_bound,
    )
    return replace(m, prints=prints)


def bubbles(fig: object) -> list[PathCollection]:
    return [c for ax in fig.axes for c in ax.collections  # type: ignore[attr-defined]
            if isinstance(c, PathCollection) and c.get_gid() == "liquidation-prints"]


def test_bubbles_at_time_and_price_sized_by_usd_in_side_colour(base: LiqMap) -> None:
    fig = build_heatmap_figure(with_prints(base, lower_bound=True))
    [sc] = bubbles(fig)
    assert len(sc.get_offsets()) == 3  # the out-of-view and the zero-USD prints are left out
    sizes = sc.get_sizes()
    assert list(sizes) == pytest.approx([260.0, 130.0, 65.0])  # largest first, area proportional to USD
    colours = [tuple(c) for c in sc.get_facecolors()]
    assert colours[0][:3] == pytest.approx(to_rgba(LONG)[:3])  # $4M long
    assert colours[1][:3] == pytest.approx(to_rgba(LONG)[:3])  # $2M long
    assert colours[2][:3] == pytest.approx(to_rgba(SHORT)[:3])  # $1M short
    [note] = [t.get_text() for t in texts_by_gid(fig, "prints-note")]
    assert "binanceusdm, bybit" in note and "$4M" in note and "lower bound" in note


@pytest.mark.parametrize("prints", [None, empty_prints()])
def test_no_bubbles_without_prints(base: LiqMap, prints: LiquidationPrints | None) -> None:
    fig = build_heatmap_figure(replace(base, prints=prints))
    assert bubbles(fig) == [] and texts_by_gid(fig, "prints-note") == []
