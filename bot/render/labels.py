"""Right-edge cluster labels: pick the strongest clusters and stack their labels without overlap.

Positions are axes fractions (0 = bottom, 1 = top). Short labels stay above the price tag, long
labels below it; a label that cannot fit is dropped (weakest first), never drawn on top of another.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from bot.format import fmt_range, fmt_usd
from bot.model.types import Cluster
from bot.render.theme import BG, LABEL_SIZE, LONG, SHORT, text_kw

MAX_PER_SIDE = 3
LABEL_GAP = 0.062  # axes fraction between label centres (~33 px at the default size)


def spread(desired: Sequence[float], gap: float, lo: float, hi: float) -> list[float] | None:
    """Positions as close as possible to ``desired`` (ascending), at least ``gap`` apart, within lo..hi.

    Returns ``None`` when they cannot fit.
    """
    n = len(desired)
    if n == 0:
        return []
    if (n - 1) * gap > hi - lo + 1e-12:
        return None
    pos = [min(max(d, lo), hi) for d in desired]
    for i in range(1, n):  # push up
        pos[i] = max(pos[i], pos[i - 1] + gap)
    if pos[-1] > hi:  # then push back down from the top
        pos[-1] = hi
        for i in range(n - 2, -1, -1):
            pos[i] = min(pos[i], pos[i + 1] - gap)
    return pos if pos[0] >= lo - 1e-12 else None


def pick_clusters(clusters: Sequence[Cluster], side: str, lo: float, hi: float) -> list[Cluster]:
    """The ``MAX_PER_SIDE`` biggest clusters of ``side`` whose mid price lies inside lo..hi (USD)."""
    inside = [c for c in clusters if c.side == side and c.usd > 0 and lo <= (c.low + c.high) / 2 <= hi]
    return sorted(inside, key=lambda c: c.usd, reverse=True)[:MAX_PER_SIDE]


def cluster_text(c: Cluster) -> str:
    """Label text: ``$412M  68.0k–68.3k``."""
    return f"{fmt_usd(c.usd)}  {fmt_range(c.low, c.high)}"


def _layout(chosen: list[Cluster], to_frac: dict[str, float], lo: float, hi: float) -> dict[str, float]:
    """Label y (axes fraction) per cluster id, dropping the weakest until the rest fit in lo..hi."""
    chosen = list(chosen)
    while chosen:
        ordered = sorted(chosen, key=lambda c: to_frac[c.id])
        placed = spread([to_frac[c.id] for c in ordered], LABEL_GAP, lo, hi)
        if placed is not None:
            return {c.id: y for c, y in zip(ordered, placed, strict=True)}
        chosen.remove(min(chosen, key=lambda c: c.usd))
    return {}


def draw_cluster_labels(ax: Axes, clusters: Sequence[Cluster], price: float, ylo: float, yhi: float) -> None:
    """Label the strongest clusters at the right edge of ``ax`` (y axis: price ``ylo..yhi`` USD).

    Each label gets a bracket over the cluster's price range at the axis edge and a leader line (one
    LineCollection for all). Label texts carry gid ``cluster-long`` / ``cluster-short``; their y is in
    axes fractions (``transAxes``).
    """
    span = yhi - ylo

    def frac(p: float) -> float:
        return (p - ylo) / span

    price_y = frac(price)
    segments: list[list[tuple[float, float]]] = []
    colors: list[str] = []
    for side, color in (("short", SHORT), ("long", LONG)):
        chosen = pick_clusters(clusters, side, ylo, yhi)
        to_frac = {c.id: frac((c.low + c.high) / 2) for c in chosen}
        if side == "short":
            lo, hi = price_y + LABEL_GAP, 1.0 - LABEL_GAP / 3
        else:
            lo, hi = LABEL_GAP / 3, price_y - LABEL_GAP
        placed = _layout(chosen, to_frac, lo, hi)
        for c in chosen:
            if c.id not in placed:
                continue
            low, high = max(frac(c.low), 0.0), min(frac(c.high), 1.0)
            segments += [[(1.004, low), (1.004, high)], [(1.008, to_frac[c.id]), (1.045, placed[c.id])]]
            colors += [color, color]
            ax.text(1.045, placed[c.id], cluster_text(c), transform=ax.transAxes, ha="left", va="center",
                    clip_on=False, gid=f"cluster-{side}", **text_kw(LABEL_SIZE, color, fontweight="bold"),
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": BG, "edgecolor": color, "linewidth": 0.6})
    if segments:
        widths = [2.2 if i % 2 == 0 else 0.6 for i in range(len(segments))]
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=widths, transform=ax.transAxes,
                                         clip_on=False, capstyle="butt", gid="cluster-lines"), autolim=False)
