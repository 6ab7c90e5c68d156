"""The /risk image: the liquidation-map chart widened to show the user's entry and liquidation price as labelled
vertical lines (price runs along x on this chart). Rendered uncached: the image is personal, never shared."""

from __future__ import annotations

import asyncio
import gc
import math
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bot.format import fmt_price
from bot.model.types import LiqMap
from bot.render.liqmap_chart import build_map_figure, map_view
from bot.render.png import _RENDER_LOCK, figure_png, release
from bot.render.theme import BG, LABEL_SIZE, TEXT, WARN, text_kw

ENTRY_COLOR = TEXT
LIQ_COLOR = WARN
MARGIN = 0.15  # the view reaches this share of its width beyond the farthest mark


@dataclass(frozen=True)
class RiskMarks:
    """What to draw: ``entry`` and ``liq`` USD (``liq`` NaN = no liquidation price) and the position's side."""

    entry: float
    liq: float
    side: str


def risk_view(m: LiqMap, marks: RiskMarks) -> tuple[float, float]:
    """x range (USD): the map's own view, widened so both marks fit with a margin, clipped to the map's grid."""
    lo, hi = map_view(m)
    points = [p for p in (marks.entry, marks.liq) if math.isfinite(p) and p > 0]
    if not points:
        return lo, hi
    want_lo, want_hi = min(lo, *points), max(hi, *points)
    pad = MARGIN * (want_hi - want_lo) if (want_lo < lo or want_hi > hi) else 0.0
    half = m.bin_width / 2
    grid_lo, grid_hi = float(m.bin_price[0]) - half, float(m.bin_price[-1]) + half
    new_lo = want_lo - (pad if want_lo < lo else 0.0)
    new_hi = want_hi + (pad if want_hi > hi else 0.0)
    return max(new_lo, grid_lo), min(new_hi, grid_hi)


def _mark(ax: Axes, x: float, label: str, color: str, gid: str, y: float) -> None:
    """One labelled vertical line at ``x`` USD; off the chart it becomes an arrow label at the nearest edge."""
    lo, hi = ax.get_xlim()
    if lo <= x <= hi:
        ax.axvline(x, color=color, linewidth=1.1, linestyle=(0, (5, 2)), gid=gid)
        ax.annotate(label, xy=(x, y), xycoords=ax.get_xaxis_transform(), ha="center", va="top", gid=f"{gid}-tag",
                    **text_kw(LABEL_SIZE, BG, fontweight="bold"),
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": color, "edgecolor": "none"})
        return
    left = x < lo
    ax.annotate(f"{'← ' if left else ''}{label} (off chart){'' if left else ' →'}", xy=(lo if left else hi, y),
                xycoords=ax.get_xaxis_transform(), ha="left" if left else "right", va="top", gid=f"{gid}-tag",
                **text_kw(LABEL_SIZE, color, fontweight="bold"))


def build_risk_figure(m: LiqMap, marks: RiskMarks) -> Figure:
    """The map chart of ``m`` over ``risk_view`` with the entry and liquidation lines (gids ``risk-entry``,
    ``risk-liq`` and their ``-tag`` labels). An empty map gives the chart's message figure, unmarked."""
    fig = build_map_figure(m, view=risk_view(m, marks))
    axes = [a for a in fig.axes if a.get_label() == "map"]
    if not axes:
        return fig
    ax = axes[0]
    _mark(ax, marks.entry, f"entry {fmt_price(marks.entry, full=True)}", ENTRY_COLOR, "risk-entry", 0.90)
    if math.isfinite(marks.liq):
        _mark(ax, marks.liq, f"your {marks.side} liq {fmt_price(marks.liq, full=True)}", LIQ_COLOR, "risk-liq", 0.82)
    return fig


def render_risk_png(m: LiqMap, marks: RiskMarks) -> bytes:
    """PNG bytes of ``build_risk_figure`` (serialised with every other render, memory freed at once)."""
    with _RENDER_LOCK:
        fig = build_risk_figure(m, marks)
        try:
            return figure_png(fig)
        finally:
            release(fig)
            del fig
            gc.collect(1)


async def render_risk_png_async(m: LiqMap, marks: RiskMarks) -> bytes:
    """``render_risk_png`` in a worker thread (uncached: the marks are one user's)."""
    return await asyncio.to_thread(render_risk_png, m, marks)
