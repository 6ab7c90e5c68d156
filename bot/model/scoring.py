"""Backtest metrics (pure): bucket a map and realized liquidations around price, capture@10%, visited Spearman, and
the rank statistics of the traded-range score (Spearman, partial Spearman given controls).

Buckets: edges ``p * (1 + k * 0.0025)`` for k = -40..40, i.e. 80 buckets of 0.25% covering +-10% around price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

BUCKET_STEP = 0.0025
HALF_BUCKETS = 40
TOP_K = 8


def bucket_edges(price: float) -> F64:
    """(81,) USD bucket edges p*(1 + k*0.25%) for k = -40..40."""
    k = np.arange(-HALF_BUCKETS, HALF_BUCKETS + 1, dtype=np.float64)
    return np.asarray(price * (1.0 + k * BUCKET_STEP), dtype=np.float64)


def to_buckets(edges: F64, price: F64, usd: F64) -> F64:
    """(80,) USD summed per bucket; ``price``/``usd``: (m,) USD. Values outside the edges are dropped."""
    nb = edges.size - 1
    idx = np.searchsorted(edges, price, side="right") - 1
    ok = (idx >= 0) & (idx < nb) & np.isfinite(usd)
    return np.asarray(np.bincount(idx[ok], weights=usd[ok], minlength=nb)[:nb], dtype=np.float64)


def nearness_order(n_buckets: int = 2 * HALF_BUCKETS) -> F64:
    """(80,) distance of each bucket centre from price in bucket units (0.5 for the two touching price)."""
    return np.abs(np.arange(n_buckets, dtype=np.float64) + 0.5 - n_buckets / 2.0)


def top_buckets(pred: F64, k: int = TOP_K) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` buckets with most predicted mass; ties go to the buckets nearer price."""
    order = np.lexsort((nearness_order(pred.size), -pred))
    return np.asarray(order[:k], dtype=np.int64)


def capture(real: F64, chosen: npt.NDArray[np.int64]) -> float:
    """Share of realized notional (80,) USD inside the ``chosen`` buckets (NaN when nothing was realized)."""
    total = float(real.sum())
    return float(real[chosen].sum()) / total if total > 0 else float("nan")


def nearest_buckets(k: int = TOP_K) -> npt.NDArray[np.int64]:
    """Indices of the k/2 buckets each side of price."""
    return np.arange(HALF_BUCKETS - k // 2, HALF_BUCKETS + k // 2, dtype=np.int64)


def visited_mask(edges: F64, low: float, high: float) -> B:
    """(80,) True for buckets that intersect the traded range [low, high] USD."""
    return np.asarray((edges[1:] >= low) & (edges[:-1] <= high), dtype=np.bool_)


def ranks(x: F64) -> F64:
    """Average ranks (ties share the mean rank), 0-based."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    starts = np.flatnonzero(np.concatenate(([True], xs[1:] != xs[:-1])))
    ends = np.concatenate((starts[1:], [x.size]))
    mean_rank = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: F64, b: F64) -> float:
    """Spearman rank correlation of predictions ``a`` and outcomes ``b``, both (m,).

    NaN when m < 3 or the outcomes are constant (nothing to rank); 0 when the predictions are constant.
    """
    if a.size < 3 or np.ptp(b) == 0:
        return float("nan")
    if np.ptp(a) == 0:
        return 0.0
    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def rank_residuals(y: F64, controls: F64) -> F64:
    """(m,) residuals of the least-squares fit of ``ranks(y)`` on an intercept and the ranks of each control.

    y: (m,) values; controls: (m, c) values (each column ranked on its own).
    """
    design = np.column_stack([np.ones(y.size), *(ranks(controls[:, j]) for j in range(controls.shape[1]))])
    ry = ranks(y)
    coef, *_ = np.linalg.lstsq(design, ry, rcond=None)
    return np.asarray(ry - design @ coef, dtype=np.float64)


def partial_spearman(a: F64, b: F64, controls: F64) -> float:
    """Partial Spearman correlation of ``a`` and ``b`` given ``controls``: rank every variable, take the linear
    residuals of rank(a) and of rank(b) on an intercept and the controls' ranks, and correlate the residuals.

    a, b: (m,) values; controls: (m, c). This is what ``a`` tells about ``b`` beyond what the controls already
    tell. As ``spearman``: NaN when there are too few observations (m < c + 3) or nothing of ``b`` is left to
    explain (its residual is constant); 0 when nothing of ``a`` is left (e.g. ``a`` is a strictly monotone function
    of one control, so it carries no information beyond it).
    """
    if controls.ndim == 1:
        controls = controls[:, None]
    if a.size < controls.shape[1] + 3:
        return float("nan")
    ra, rb = rank_residuals(a, controls), rank_residuals(b, controls)
    tol = 1e-9 * a.size  # ranks run to m - 1: residuals below this are rounding noise
    if float(np.ptp(rb)) <= tol:
        return float("nan")
    if float(np.ptp(ra)) <= tol:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


@dataclass(frozen=True)
class SnapshotScore:
    """Scores of one snapshot: capture shares (NaN if nothing realized), Spearman values (NaN if undefined)."""

    at: int
    price: float
    realized_usd: float
    capture_map: float
    capture_nearest: float
    capture_uniform: float
    spearman_map: float
    spearman_nearest: float
    n_visited: int
    spearman_pending: float = float("nan")  # the raw map's (pending book's) visited Spearman, when it was given


def score_snapshot(
    at: int, price: float, pred: F64, real: F64, visited: B, pending: F64 | None = None
) -> SnapshotScore:
    """Score one snapshot from its (80,) predicted USD, (80,) realized USD and (80,) visited mask; ``pending``:
    (80,) USD of the raw map, whose visited Spearman is kept beside the prediction's (NaN without it)."""
    total = float(real.sum())
    cap_map = capture(real, top_buckets(pred))
    cap_near = capture(real, nearest_buckets())
    cap_uni = TOP_K / real.size if total > 0 else float("nan")
    sp_map = spearman(pred[visited], real[visited])
    sp_near = spearman(-nearness_order(real.size)[visited], real[visited])
    sp_pending = spearman(pending[visited], real[visited]) if pending is not None else float("nan")
    return SnapshotScore(at, price, total, cap_map, cap_near, cap_uni, sp_map, sp_near, int(visited.sum()),
                         sp_pending)
