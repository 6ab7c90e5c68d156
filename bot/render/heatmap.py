"""The liquidation heatmap: time along x, price up y, colour = pending liquidation USD per price bin."""

from __future__ import annotations

from datetime import UTC, datetime

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.format import fmt_price
from bot.model.types import LiqMap
from bot.render.bubbles import draw_prints
from bot.render.checks import finite_usd
from bot.render.frame import start_chart
from bot.render.labels import draw_cluster_labels, pick_clusters
from bot.render.palette import Palette, add_colorbar, check_palette, heat_norm, heat_rgba
from bot.render.theme import (
    BG,
    LABEL_SIZE,
    MAIN_RECT,
    PRICE,
    set_price_axis,
    style_axes,
    text_kw,
)

MS_PER_DAY = 86_400_000
MAX_COLUMNS = 1000
TICK_STEPS_MS: tuple[int, ...] = tuple(
    m * 60_000 for m in (15, 30, 60, 120, 180, 360, 720, 1440, 2880, 4320, 10080, 20160, 43200)
)
MIN_PAD_FRAC = 0.02  # at least ±2 % of price around the traded range
COLORBAR_RECT: tuple[float, float, float, float] = (0.80, 0.905, 0.17, 0.035)


def _to_datenum(ms: np.ndarray) -> np.ndarray:
    """(n,) UTC ms -> (n,) matplotlib date numbers (days since the 1970 epoch)."""
    return np.asarray(mdates.date2num(np.asarray(ms, dtype="datetime64[ms]")), dtype=np.float64)


def price_view(m: LiqMap) -> tuple[float, float]:
    """The y range (USD) to show: the traded range plus padding, stretched over nearby big clusters.

    Clipped to the price grid so no empty band is drawn.
    """
    closes = m.close[np.isfinite(m.close)]
    lo = float(min(closes.min(), m.price)) if closes.size else m.price
    hi = float(max(closes.max(), m.price)) if closes.size else m.price
    pad = max(0.3 * (hi - lo), MIN_PAD_FRAC * m.price)
    reach_lo, reach_hi = lo - 3 * pad, hi + 3 * pad
    for c in pick_clusters(m.clusters, "long", reach_lo, reach_hi):
        lo = min(lo, c.low)
    for c in pick_clusters(m.clusters, "short", reach_lo, reach_hi):
        hi = max(hi, c.high)
    pad = max(0.12 * (hi - lo), 0.5 * pad)
    half = m.bin_width / 2
    grid_lo, grid_hi = float(m.bin_price[0]) - half, float(m.bin_price[-1]) + half
    view_lo, view_hi = max(lo - pad, grid_lo), min(hi + pad, grid_hi)
    if view_hi - view_lo < 4 * m.bin_width:  # price far outside the grid: show the grid itself
        return grid_lo, grid_hi
    return view_lo, view_hi


def _draw_heat(ax: Axes, m: LiqMap, lo: float, hi: float, palette: Palette) -> tuple[float, float]:
    """Draw the cropped heat image; returns the x extent (date numbers) and sets up the colour bar."""
    i0 = max(int(np.searchsorted(m.bin_price, lo - m.bin_width)), 0)
    i1 = min(int(np.searchsorted(m.bin_price, hi + m.bin_width)) + 1, m.bin_price.size)
    times = _to_datenum(m.heat_time)
    step = float(np.median(np.diff(times))) if times.size > 1 else 1 / 24
    x0, x1 = float(times[0] - step), float(times[-1])
    k = -(-times.size // MAX_COLUMNS)  # keep every k-th column (ending at the latest): the axes is ~900 px wide
    cols = slice(times.size - 1 - (times.size - 1) // k * k, None, k)
    hl, hs = finite_usd(m.heat_long[cols, i0:i1]), finite_usd(m.heat_short[cols, i0:i1])
    norm = heat_norm(hl, hs)
    rgba = heat_rgba(hl, hs, norm, palette)
    half = m.bin_width / 2
    extent = (x0, x1, float(m.bin_price[i0]) - half, float(m.bin_price[i1 - 1]) + half)
    ax.imshow(rgba, origin="lower", aspect="auto", extent=extent, interpolation="nearest", resample=False)
    caption = f"pending liquidations per ${m.bin_width:,.0f} bin"
    add_colorbar(ax.get_figure(), norm, palette, COLORBAR_RECT, caption)  # type: ignore[arg-type]
    return x0, x1


def _draw_price(ax: Axes, m: LiqMap, x1: float) -> None:
    """Close-price line, a dashed current-price level and the price tag on the right edge."""
    ok = np.isfinite(m.close)
    if ok.any():
        t = _to_datenum(m.close_time[ok])
        ax.plot(t, m.close[ok], color=BG, linewidth=2.2, alpha=0.7, solid_joinstyle="round")
        ax.plot(t, m.close[ok], color=PRICE, linewidth=0.9, solid_joinstyle="round", gid="close-line")
    ax.axhline(m.price, color=PRICE, linewidth=0.5, linestyle=(0, (3, 3)), alpha=0.7, gid="price-line")
    ax.plot([x1], [m.price], marker="o", markersize=3, color=PRICE, clip_on=False)
    ax.annotate(
        fmt_price(m.price, full=True),
        xy=(1.0, m.price), xycoords=ax.get_yaxis_transform(), ha="left", va="center",
        xytext=(3, 0), textcoords="offset points", annotation_clip=False, gid="price-tag",
        **text_kw(LABEL_SIZE, BG, fontweight="bold"),
        bbox={"boxstyle": "round,pad=0.25", "facecolor": PRICE, "edgecolor": "none"},
    )


def time_ticks(t0_ms: int, t1_ms: int, max_ticks: int = 7) -> tuple[list[int], list[str]]:
    """UTC tick times (ms) on round steps within t0..t1 and their labels (``Nov 21`` at midnight, else ``13:00``)."""
    span = max(t1_ms - t0_ms, 1)
    step = next((s for s in TICK_STEPS_MS if span / s <= max_ticks), TICK_STEPS_MS[-1])
    first = -(-t0_ms // step) * step
    ticks = list(range(first, t1_ms + 1, step))
    labels = []
    for t in ticks:
        when = datetime.fromtimestamp(t / 1000, tz=UTC)
        labels.append(when.strftime("%b %d" if t % MS_PER_DAY == 0 else "%H:%M"))
    return ticks, labels


def _time_axis(ax: Axes, x0: float, x1: float) -> None:
    """Fixed UTC ticks (computed once, cheaper to draw than date locators) over x0..x1 (date numbers)."""
    ticks, labels = time_ticks(round(x0 * MS_PER_DAY), round(x1 * MS_PER_DAY))
    ax.set_xticks(_to_datenum(np.asarray(ticks, dtype=np.int64)), labels)
    ax.set_xlim(x0, x1)


def build_heatmap_figure(m: LiqMap, palette: str = "default") -> Figure:
    """The heatmap figure for ``m`` (1280x720, dark), or a clear message figure for empty/degenerate maps.

    Uses ``m.heat_long`` / ``m.heat_short`` (t, b) USD on ``m.bin_price`` (b,) USD at ``m.heat_time``
    (t,) ms, the close line ``m.close_time`` / ``m.close`` (t',) and ``m.clusters`` for right-edge labels.
    Raises ``LiqmapError`` for inconsistent arrays and ``ValueError`` for an unknown palette.
    """
    check_palette(palette)
    fig, done = start_chart(m, "liquidation heatmap", "heatmap")
    if done:
        return fig
    ax = fig.add_axes(MAIN_RECT, label="heatmap")
    style_axes(ax, grid_axis="")
    lo, hi = price_view(m)
    x0, x1 = _draw_heat(ax, m, lo, hi, palette)  # type: ignore[arg-type]
    _draw_price(ax, m, x1)
    draw_prints(ax, m, x0, x1, lo, hi)  # real liquidations where price cut through the bands
    set_price_axis(ax, "y", lo, hi)
    _time_axis(ax, x0, x1)
    draw_cluster_labels(ax, m.clusters, m.price, lo, hi)
    return fig
