"""Structure of both figures: axes, header, marks, colour bar, legend, ticks, cluster labels on the right side."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from bot.model.types import LiqMap
from bot.render import build_heatmap_figure, build_map_figure
from bot.render.labels import MAX_PER_SIDE, cluster_text
from bot.render.theme import texts_by_gid

PRICE_TICK = re.compile(r"^\d+(\.\d{1,3})?k$")
USD_TICK = re.compile(r"^(\$0|\$\d+(\.\d)?[kMBT])$")
CLUSTER_LABEL = re.compile(r"^\$\d+(\.\d)?[kMB]  \d+(\.\d+)?k–\d+(\.\d+)?k$")


def _texts(fig: Figure, gid: str) -> list[str]:
    return [t.get_text() for t in texts_by_gid(fig, gid)]


def _drawn(fig: Figure) -> Figure:
    fig.canvas.draw()  # tick labels exist only after a draw
    return fig


@pytest.mark.parametrize("build", [build_heatmap_figure, build_map_figure])
def test_header_and_marks(liqmap: LiqMap, build: object) -> None:
    fig = build(liqmap)  # type: ignore[operator]
    title, = _texts(fig, "title")
    assert "BTC/USDT:USDT" in title and "7d" in title
    subtitle, = _texts(fig, "subtitle")
    assert "Binance, Bybit, OKX" in subtitle
    assert f"price {liqmap.price:,.0f}" in subtitle
    assert "as of 2026-11-26 00:00 UTC" in subtitle
    assert _texts(fig, "estimate") and "ESTIMATE" in _texts(fig, "estimate")[0]
    assert _texts(fig, "synthetic") == [" SYNTHETIC DATA "]
    assert fig.get_size_inches().tolist() == [6.4, 3.6] and fig.dpi == 200


@pytest.mark.parametrize("build", [build_heatmap_figure, build_map_figure])
def test_no_synthetic_badge_for_real_data(liqmap: LiqMap, build: object) -> None:
    fig = build(dataclasses.replace(liqmap, synthetic=False))  # type: ignore[operator]
    assert _texts(fig, "synthetic") == []
    assert _texts(fig, "estimate")  # the estimate mark is always there


def test_missing_exchange_is_named(liqmap: LiqMap) -> None:
    m = dataclasses.replace(liqmap, exchanges=("binanceusdm", "okx"), missing_exchanges=("bybit",))
    for fig in (build_heatmap_figure(m), build_map_figure(m)):
        assert _texts(fig, "missing") == ["·  missing: Bybit"]
        assert "Binance, OKX" in _texts(fig, "subtitle")[0]


def test_heatmap_structure(liqmap: LiqMap) -> None:
    fig = _drawn(build_heatmap_figure(liqmap))
    ax, = fig.axes
    assert ax.get_label() == "heatmap"
    assert len(ax.images) == 1  # the heat image
    assert [im.get_gid() for im in fig.images] == ["colorbar"]
    assert all(USD_TICK.match(t) for t in _texts(fig, "colorbar-tick")), _texts(fig, "colorbar-tick")
    assert "per $" in _texts(fig, "colorbar-caption")[0]
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(ticks) >= 4 and all(PRICE_TICK.match(t) for t in ticks), ticks
    days = [t.get_text() for t in ax.get_xticklabels()]
    assert days[:2] == ["Nov 19", "Nov 20"]
    assert [line.get_gid() for line in ax.lines if line.get_gid()] == ["close-line", "price-line"]
    assert _texts(fig, "price-tag") == [f"{liqmap.price:,.0f}"]
    lo, hi = ax.get_ylim()
    assert lo < liqmap.price < hi


def test_heatmap_cluster_labels_sit_on_their_side_of_price(liqmap: LiqMap) -> None:
    fig = build_heatmap_figure(liqmap)
    ax, = fig.axes
    lo, hi = ax.get_ylim()
    price_y = (liqmap.price - lo) / (hi - lo)
    by_text = {cluster_text(c): c for c in liqmap.clusters}
    for side in ("long", "short"):
        labels = texts_by_gid(fig, f"cluster-{side}")
        assert 1 <= len(labels) <= MAX_PER_SIDE
        for label in labels:
            text = label.get_text()
            assert CLUSTER_LABEL.match(text), text
            cluster = by_text[text]
            assert cluster.side == side
            y = label.get_position()[1]  # axes fraction
            if side == "short":
                assert cluster.low > liqmap.price and y > price_y
            else:
                assert cluster.high < liqmap.price and y < price_y
    biggest_short = max((c for c in liqmap.clusters if c.side == "short"), key=lambda c: c.usd)
    assert cluster_text(biggest_short) in _texts(fig, "cluster-short")


def test_heatmap_without_clusters_has_no_labels(liqmap: LiqMap) -> None:
    fig = build_heatmap_figure(dataclasses.replace(liqmap, clusters=()))
    assert _texts(fig, "cluster-long") == _texts(fig, "cluster-short") == []
    assert len(fig.axes[0].images) == 1


def test_viridis_palette_has_one_colour_bar_row(liqmap: LiqMap) -> None:
    default = build_heatmap_figure(liqmap)
    viridis = build_heatmap_figure(liqmap, "viridis")
    assert _texts(default, "colorbar-row") == ["short", "long"]
    assert _texts(viridis, "colorbar-row") == []  # one combined row
    assert [im.get_gid() for im in viridis.images] == ["colorbar"]


def test_map_structure(liqmap: LiqMap) -> None:
    fig = _drawn(build_map_figure(liqmap))
    ax, ax2 = fig.axes
    assert (ax.get_label(), ax2.get_label()) == ("map", "cumulative")
    legend = next(c for c in fig.legends if c.get_gid() == "legend")
    assert [t.get_text() for t in legend.get_texts()] == ["5x", "10x", "25x", "50x", "100x"]
    colors = {p.get_facecolor() for p in legend.legend_handles}  # type: ignore[union-attr]
    assert len(colors) == 5  # each bucket its own colour
    assert {p.get_gid() for p in ax.patches} == {"lev-5x", "lev-10x", "lev-25x", "lev-50x", "lev-100x"}
    price_line = next(line for line in ax.lines if line.get_gid() == "price-line")
    assert np.asarray(price_line.get_xdata(), dtype=float)[0] == pytest.approx(liqmap.price)
    assert _texts(fig, "price-tag") == [f"price {liqmap.price:,.0f}"]
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(ticks) >= 4 and all(PRICE_TICK.match(t) for t in ticks), ticks
    for axis in (ax, ax2):
        usd = [t.get_text() for t in axis.get_yticklabels() if t.get_text()]
        assert len(usd) >= 3 and all(USD_TICK.match(t) for t in usd), usd


def test_map_cumulative_curves_run_away_from_price(liqmap: LiqMap) -> None:
    fig = build_map_figure(liqmap)
    ax2 = fig.axes[1]
    curves = {line.get_gid(): line for line in ax2.lines}
    long_x, long_y = (np.asarray(a, dtype=float) for a in curves["cum-long"].get_data())
    short_x, short_y = (np.asarray(a, dtype=float) for a in curves["cum-short"].get_data())
    assert max(long_x) == pytest.approx(liqmap.price) and min(short_x) == pytest.approx(liqmap.price)
    assert list(long_y) == sorted(long_y, reverse=True)  # grows leftwards, away from price
    assert list(short_y) == sorted(short_y)  # grows rightwards
    assert long_y[0] == pytest.approx(max(long_y)) and long_y[0] > 0.8 * liqmap.total_long_usd
    assert _texts(fig, "cum-long-label")[0].startswith("longs $")
    assert _texts(fig, "cum-short-label")[0].startswith("shorts $")


def test_heatmap_colours_longs_warm_below_and_shorts_green_above(liqmap: LiqMap) -> None:
    fig = build_heatmap_figure(liqmap)
    image = fig.axes[0].images[0]
    rgba = image.get_array()  # (rows = price ascending, columns = time, 4) uint8
    assert rgba is not None
    _, _, y0, y1 = image.get_extent()
    prices = y0 + (y1 - y0) * (np.arange(rgba.shape[0]) + 0.5) / rgba.shape[0]
    last = rgba[:, -1, :3].astype(int)
    lit = last.sum(axis=1) > 150  # clearly coloured cells (not background)
    below, above = lit & (prices < liqmap.price), lit & (prices > liqmap.price)
    assert below.sum() > 10 and above.sum() > 10
    assert (last[below, 0] > last[below, 1]).all()  # red-orange: red channel dominates
    assert (last[above, 1] > last[above, 0]).all()  # green dominates
