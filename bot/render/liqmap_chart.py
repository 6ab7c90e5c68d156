"""The liquidation map: price along x, stacked USD bars per leverage bucket, cumulative curves either side."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bot.format import fmt_price, fmt_usd
from bot.model.types import LiqMap
from bot.render.checks import finite_usd
from bot.render.frame import start_chart
from bot.render.theme import (
    BG,
    FONT,
    GRID,
    LABEL_SIZE,
    LONG,
    MAIN_RECT,
    MUTED,
    PRICE,
    SHORT,
    SMALL_SIZE,
    set_price_axis,
    style_axes,
    style_ticks,
    text_kw,
    usd_formatter,
)

F64 = npt.NDArray[np.float64]
MAP_RECT: tuple[float, float, float, float] = (MAIN_RECT[0], MAIN_RECT[1], 0.845, MAIN_RECT[3] - 0.01)
TARGET_BARS = 160
VIEW_SHARE = 0.9  # the view holds this share of each side's pending USD ...
VIEW_MIN_FRAC, VIEW_MAX_FRAC = 0.03, 0.30  # ... within ±3 % .. ±30 % of price

# Fixed colours per common leverage so a bucket looks the same on every image.
LEVERAGE_COLORS: dict[float, str] = {
    2: "#74c0fc", 3: "#5c9df5", 5: "#4c6ef5", 10: "#7950f2", 20: "#ae3ec9", 25: "#cc5de8",
    50: "#f06595", 75: "#ffa8a8", 100: "#fcc419", 125: "#66d9e8",
}


def leverage_colors(leverages: F64) -> list[str]:
    """A colour per leverage bucket: the fixed colour of the nearest common leverage (log scale),
    unless two buckets would share one, then distinct colours by rank. Non-finite buckets are grey."""
    if not np.isfinite(leverages).all():
        return [MUTED] * len(leverages)
    keys = np.array(sorted(LEVERAGE_COLORS), dtype=np.float64)
    nearest = [float(keys[np.argmin(np.abs(np.log(keys) - math.log(max(lev, 1.0))))]) for lev in leverages]
    if len(set(nearest)) == len(nearest):
        return [LEVERAGE_COLORS[k] for k in nearest]
    palette = list(LEVERAGE_COLORS.values())
    order = np.argsort(np.argsort(leverages))
    return [palette[int(r * (len(palette) - 1) / max(len(leverages) - 1, 1))] for r in order]


def map_view(m: LiqMap) -> tuple[float, float]:
    """x range (USD) symmetric about price holding ``VIEW_SHARE`` of each side, clipped to the grid."""
    reach = VIEW_MIN_FRAC * m.price
    for usd, below in ((m.long_usd, True), (m.short_usd, False)):
        side = (m.bin_price < m.price) if below else (m.bin_price >= m.price)
        values, prices = finite_usd(usd[side]), m.bin_price[side]
        if values.sum() <= 0:
            continue
        order = np.argsort(np.abs(prices - m.price))
        cum = np.cumsum(values[order])
        k = int(np.searchsorted(cum, VIEW_SHARE * cum[-1]))
        reach = max(reach, abs(float(prices[order][min(k, order.size - 1)]) - m.price) * 1.05)
    reach = min(reach, VIEW_MAX_FRAC * m.price)
    half = m.bin_width / 2
    lo = max(m.price - reach, float(m.bin_price[0]) - half)
    hi = min(m.price + reach, float(m.bin_price[-1]) + half)
    return (lo, hi) if hi - lo > 4 * m.bin_width else (float(m.bin_price[0]) - half, float(m.bin_price[-1]) + half)


def rebin(m: LiqMap, lo: float, hi: float, target: int = TARGET_BARS) -> tuple[F64, F64, F64, F64, F64]:
    """Sum the bins inside lo..hi into at most ``target`` bars.

    Returns ``edges`` (n+1,) USD, ``long_lev`` / ``short_lev`` (v, n) USD per bar, and ``long`` /
    ``short`` (n,) USD per bar. NaN / negative bins count as 0.
    """
    i0 = int(np.searchsorted(m.bin_price, lo))
    i1 = max(int(np.searchsorted(m.bin_price, hi, side="right")), i0 + 1)
    k = max(1, math.ceil((i1 - i0) / target))
    n = math.ceil((i1 - i0) / k)
    pad = n * k - (i1 - i0)

    def fold(a: F64) -> F64:
        part = np.pad(a[..., i0:i1], [(0, 0)] * (a.ndim - 1) + [(0, pad)])
        return np.asarray(finite_usd(part).reshape(*a.shape[:-1], n, k).sum(axis=-1), dtype=np.float64)

    start = float(m.bin_price[i0]) - m.bin_width / 2
    edges = start + k * m.bin_width * np.arange(n + 1, dtype=np.float64)
    return edges, fold(m.long_by_lev), fold(m.short_by_lev), fold(m.long_usd), fold(m.short_usd)


def _draw_bars(ax: Axes, leverages: F64, edges: F64, long_lev: F64, short_lev: F64) -> list[Patch]:
    """Stacked stairs per leverage bucket (one filled patch each); returns legend handles.

    ``leverages`` (v,), ``edges`` (n+1,) USD, ``long_lev`` / ``short_lev`` (v, n) USD per bar. A NaN
    leverage is one bucket holding every leverage ("all").
    """
    base = np.zeros(edges.size - 1)
    handles: list[Patch] = []
    for lev, color, ll, sl in zip(leverages, leverage_colors(leverages), long_lev, short_lev, strict=True):
        top = base + ll + sl
        name = f"{lev:g}x" if math.isfinite(lev) else "all"
        ax.stairs(top, edges, baseline=base, fill=True, color=color, linewidth=0, gid=f"lev-{name}")
        handles.append(Patch(facecolor=color, edgecolor="none", label=name))
        base = top
    ax.set_ylim(0.0, max(float(base.max()), 1.0) * 1.32)
    return handles


def _curve_label(ax2: Axes, x: float, y: float, text: str, color: str, gid: str, left: bool) -> None:
    """A direct label just above a cumulative curve's outer end (``x`` USD, ``y`` cumulative USD)."""
    ax2.annotate(text, xy=(x, y), xytext=(3 if left else -3, 4), textcoords="offset points",
                 ha="left" if left else "right", va="bottom", gid=gid,
                 **text_kw(SMALL_SIZE + 0.5, color, fontweight="bold"),
                 bbox={"boxstyle": "round,pad=0.2", "facecolor": BG, "edgecolor": "none", "alpha": 0.75})


def _draw_cumulative(ax2: Axes, m: LiqMap, edges: F64, long_bar: F64, short_bar: F64) -> None:
    """Cumulative longs from price leftwards and shorts rightwards on the secondary axis, labelled at their ends.

    ``edges`` (n+1,) USD bar edges, ``long_bar`` / ``short_bar`` (n,) USD per bar.
    """
    centers = (edges[:-1] + edges[1:]) / 2
    below, above = centers < m.price, centers >= m.price
    cum_long = np.cumsum(long_bar[below][::-1])[::-1]
    cum_short = np.cumsum(short_bar[above])
    xl = np.append(centers[below], m.price)
    yl = np.append(cum_long, 0.0)
    xs = np.insert(centers[above], 0, m.price)
    ys = np.insert(cum_short, 0, 0.0)
    ax2.fill_between(xl, yl, color=LONG, alpha=0.10, linewidth=0)
    ax2.fill_between(xs, ys, color=SHORT, alpha=0.10, linewidth=0)
    ax2.plot(xl, yl, color=LONG, linewidth=1.3, gid="cum-long")
    ax2.plot(xs, ys, color=SHORT, linewidth=1.3, gid="cum-short")
    top = max(float(yl.max(initial=0.0)), float(ys.max(initial=0.0)), 1.0)
    ax2.set_ylim(0.0, top * 1.38)
    if xl.size > 1:
        _curve_label(ax2, float(xl[0]), float(yl[0]), f"longs {fmt_usd(float(yl[0]))} to {fmt_price(float(xl[0]))}",
                     LONG, "cum-long-label", left=True)
    if xs.size > 1:
        _curve_label(ax2, float(xs[-1]), float(ys[-1]),
                     f"shorts {fmt_usd(float(ys[-1]))} to {fmt_price(float(xs[-1]))}", SHORT, "cum-short-label",
                     left=False)


def _draw_legend(fig: Figure, handles: list[Patch]) -> None:
    """Leverage colours as a legend in the header's top-right corner (one row, two when there are many)."""
    ncol = len(handles) if len(handles) <= 6 else -(-len(handles) // 2)
    font = {"family": FONT, "size": SMALL_SIZE}
    legend = fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.99, 0.985), ncol=ncol,
                        frameon=False, prop=font, handlelength=1.0, handleheight=0.8, handletextpad=0.4,
                        columnspacing=0.9, borderpad=0.2, borderaxespad=0.0, labelcolor=MUTED,
                        title="leverage", title_fontproperties=font)
    legend.get_title().set_color(MUTED)
    legend.set_gid("legend")


def build_map_figure(m: LiqMap, view: tuple[float, float] | None = None) -> Figure:
    """The liquidation-map figure for ``m`` (1280x720, dark), or a message figure for empty/degenerate maps.
    ``view`` (lo, hi) USD overrides ``map_view(m)`` (the /risk image widens it to show the user's marks).

    Uses ``m.long_by_lev`` / ``m.short_by_lev`` (v, b) USD per ``m.leverages`` (v,) bucket on
    ``m.bin_price`` (b,) USD, re-binned to at most ``TARGET_BARS`` bars over the view.
    Raises ``LiqmapError`` for inconsistent arrays.
    """
    fig, done = start_chart(m, "liquidation map", "map")
    if done:
        return fig
    lo, hi = view if view is not None else map_view(m)
    edges, long_lev, short_lev, long_bar, short_bar = rebin(m, lo, hi)
    ax = fig.add_axes(MAP_RECT, label="map")
    style_axes(ax, grid_axis="y")
    ax2 = ax.twinx()
    ax2.set_label("cumulative")
    leverages = m.leverages
    if leverages.size == 0:  # no per-leverage split: one bucket holding the totals
        leverages, long_lev, short_lev = np.array([np.nan]), long_bar[None, :], short_bar[None, :]
    handles = _draw_bars(ax, leverages, edges, long_lev, short_lev)
    _draw_cumulative(ax2, m, edges, long_bar, short_bar)
    ax.yaxis.set_major_formatter(usd_formatter())
    ax2.yaxis.set_major_formatter(usd_formatter())
    style_ticks(ax2)
    for side, spine in ax2.spines.items():
        spine.set_visible(side == "right")
        spine.set_color(GRID)
    set_price_axis(ax, "x", lo, hi, nbins=9)
    ax.axvline(m.price, color=PRICE, linewidth=0.8, linestyle=(0, (3, 2)), gid="price-line")
    frac = (m.price - lo) / (hi - lo)  # the tag is centred on the line unless that would cross an edge
    ha = "left" if frac < 0.12 else "right" if frac > 0.88 else "center"
    ax.annotate(f"price {fmt_price(m.price, full=True)}", xy=(m.price, 0.985), xycoords=ax.get_xaxis_transform(),
                ha=ha, va="top", gid="price-tag", **text_kw(LABEL_SIZE, BG, fontweight="bold"),
                bbox={"boxstyle": "round,pad=0.25", "facecolor": PRICE, "edgecolor": "none"})
    bar_usd = float(edges[1] - edges[0])
    ax.set_title(f"USD per ${bar_usd:,.0f} bar, stacked by leverage", loc="left", pad=3,
                 **text_kw(SMALL_SIZE, MUTED))
    ax2.set_title("cumulative USD from price", loc="right", pad=3, **text_kw(SMALL_SIZE, MUTED))
    _draw_legend(fig, handles)
    return fig
