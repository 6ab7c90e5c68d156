"""Squeeze-risk score (0–100) of each cluster of a map, with the human reasons behind it (formula in docs/alerts.md).

The score is a weighted sum of five parts, each clipped to 0..1:

- pending (30): the cluster's USD / all pending USD on its side, full at 40%;
- oi (25): the cluster's USD / open interest, full at 5% of OI;
- distance (20): ``1 - distance / 3%``, full when price touches the cluster;
- funding (15): funding sign says which side is crowded (positive: longs pay, so long clusters below price are the
  squeeze fuel; negative: shorts); ``|rate| / 0.05%`` counts only for the crowded side;
- oi_trend (10): OI growth over the window, full at +10% (new leverage piling in); falling OI counts 0.

Unknown inputs (NaN OI, funding or OI change) contribute 0 and give no reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.alerts.rules import F64, ClusterArrays
from bot.format import fmt_pct

WEIGHTS = {"pending": 30.0, "oi": 25.0, "distance": 20.0, "funding": 15.0, "oi_trend": 10.0}
PENDING_FULL = 0.4
OI_FULL = 0.05
DISTANCE_ZERO_PCT = 3.0
FUNDING_FULL = 5e-4
OI_TREND_FULL_PCT = 10.0
REASON_MIN = 0.2  # a part adds its reason when it reaches this fraction of its own maximum


@dataclass(frozen=True)
class MarketContext:
    """Map-wide inputs: pending totals USD, open interest USD, funding rate (fraction), OI change over the window %."""

    total_long_usd: float
    total_short_usd: float
    oi_usd: float = float("nan")
    funding_rate: float = float("nan")
    oi_change_pct: float = float("nan")


@dataclass(frozen=True)
class Scores:
    """``score`` (K,) int 0..100 and ``reasons`` K lists of short phrases, strongest first."""

    score: np.ndarray
    reasons: list[list[str]]


def _clip01(x: F64) -> F64:
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def score_clusters(clusters: ClusterArrays, distance_pct: F64, ctx: MarketContext) -> Scores:
    """Score K clusters; ``distance_pct`` (K,) unsigned % from ``rules.cluster_distance_pct``."""
    k = clusters.k
    side_total = np.where(clusters.is_long, ctx.total_long_usd, ctx.total_short_usd)
    with np.errstate(divide="ignore", invalid="ignore"):
        pending_frac = np.where(side_total > 0, clusters.usd / side_total, 0.0)
        oi_frac = clusters.usd / ctx.oi_usd if np.isfinite(ctx.oi_usd) and ctx.oi_usd > 0 else np.zeros(k)
    fr = ctx.funding_rate if np.isfinite(ctx.funding_rate) else 0.0
    crowded = np.where(clusters.is_long, fr > 0, fr < 0)
    oi_chg = ctx.oi_change_pct if np.isfinite(ctx.oi_change_pct) else 0.0
    parts = {
        "pending": _clip01(pending_frac / PENDING_FULL),
        "oi": _clip01(oi_frac / OI_FULL),
        "distance": _clip01(1.0 - distance_pct / DISTANCE_ZERO_PCT),
        "funding": _clip01(np.where(crowded, abs(fr) / FUNDING_FULL, 0.0)),
        "oi_trend": _clip01(np.full(k, oi_chg / OI_TREND_FULL_PCT)),
    }
    total = sum(WEIGHTS[name] * v for name, v in parts.items())
    score = np.clip(np.rint(np.asarray(total, dtype=np.float64)), 0, 100).astype(np.int64)
    reasons: list[list[str]] = []
    for i in range(k):
        side = "longs" if clusters.is_long[i] else "shorts"
        texts: list[tuple[float, str]] = []
        if parts["pending"][i] >= REASON_MIN:
            texts.append(
                (
                    WEIGHTS["pending"] * parts["pending"][i],
                    f"{fmt_pct(100 * pending_frac[i], 0, signed=False)} of pending {side}",
                )
            )
        if parts["oi"][i] >= REASON_MIN:
            texts.append(
                (WEIGHTS["oi"] * parts["oi"][i], f"{fmt_pct(100 * oi_frac[i], 1, signed=False)} of open interest")
            )
        if parts["distance"][i] >= REASON_MIN:
            texts.append(
                (
                    WEIGHTS["distance"] * parts["distance"][i],
                    f"{fmt_pct(float(distance_pct[i]), 2, signed=False)} from price",
                )
            )
        if parts["funding"][i] >= REASON_MIN:
            texts.append((WEIGHTS["funding"] * parts["funding"][i], f"funding {fmt_pct(100 * fr, 3)}: {side} crowded"))
        if parts["oi_trend"][i] >= REASON_MIN:
            texts.append((WEIGHTS["oi_trend"] * parts["oi_trend"][i], f"OI {fmt_pct(oi_chg)} over the window"))
        texts.sort(key=lambda t: -t[0])
        reasons.append([t for _, t in texts])
    return Scores(score=score, reasons=reasons)
