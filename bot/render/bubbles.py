"""Real liquidation prints on the heatmap: one bubble per event at (time, price), its area proportional to the USD
liquidated, in the side's colour (longs red-orange, shorts green), over the estimated bands, with a one-line note."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes

from bot.format import fmt_usd
from bot.model.types import LiqMap
from bot.render.theme import BG, LONG, MUTED, SHORT, SMALL_SIZE, text_kw

MAX_AREA_PT2 = 260.0  # marker area of the largest print in view, points²
MIN_AREA_PT2 = 4.0  # the smallest prints stay visible
MAX_BUBBLES = 4000  # beyond this, the largest ones are drawn


def prints_in_view(m: LiqMap, x0: float, x1: float, lo: float, hi: float) -> np.ndarray:
    """Indices of ``m.prints`` inside the view: date numbers ``x0..x1`` and prices ``lo..hi`` USD, largest first
    (drawn first, so smaller bubbles stay visible on top); at most ``MAX_BUBBLES``."""
    p = m.prints
    if p is None or p.n == 0:
        return np.zeros(0, dtype=np.int64)
    x = _datenum(p.time_ms)
    ok = (x >= x0) & (x <= x1) & (p.price >= lo) & (p.price <= hi) & np.isfinite(p.usd) & (p.usd > 0)
    idx = np.flatnonzero(ok)
    order = np.argsort(-p.usd[idx], kind="stable")
    return idx[order][:MAX_BUBBLES]


def _datenum(ms: np.ndarray) -> np.ndarray:
    """(k,) UTC ms -> (k,) matplotlib date numbers."""
    return np.asarray(mdates.date2num(np.asarray(ms, dtype="datetime64[ms]")), dtype=np.float64)


def bubble_areas(usd: np.ndarray) -> np.ndarray:
    """(k,) USD -> (k,) marker areas in points², proportional to USD (the largest gets ``MAX_AREA_PT2``), never
    below ``MIN_AREA_PT2``."""
    if usd.size == 0:
        return np.zeros(0)
    return np.maximum(MAX_AREA_PT2 * usd / float(usd.max()), MIN_AREA_PT2)


def draw_prints(ax: Axes, m: LiqMap, x0: float, x1: float, lo: float, hi: float) -> int:
    """Draw the prints of ``m`` in view as bubbles plus a note at the bottom left (which feeds, the largest, and
    "lower bound" for a throttled feed); returns how many were drawn."""
    p = m.prints
    idx = prints_in_view(m, x0, x1, lo, hi)
    if p is None or idx.size == 0:
        return 0
    colours = np.where(p.is_long[idx], LONG, SHORT)
    ax.scatter(_datenum(p.time_ms[idx]), p.price[idx], s=bubble_areas(p.usd[idx]), c=colours, alpha=0.72,
               edgecolors=BG, linewidths=0.4, zorder=4, gid="liquidation-prints")
    source = {"dataset": "recorded", "simulated": "simulated"}.get(p.source, "real")
    feeds = f" ({', '.join(p.exchanges)})" if p.exchanges else ""
    bound = ", lower bound" if p.lower_bound else ""
    note = (f"● {source} liquidations{feeds}: area ∝ USD, largest {fmt_usd(float(p.usd[idx].max()))}{bound}")
    ax.text(0.005, 0.012, note, transform=ax.transAxes, ha="left", va="bottom", zorder=5, gid="prints-note",
            **text_kw(SMALL_SIZE, MUTED))
    return int(idx.size)
