"""Alert rules as pure numpy: which subscriptions fire on which clusters, hysteresis re-arming and sweeps.

One call evaluates every subscription of one (symbol, window) against every cluster of its map at once.
Shapes: N subscriptions, K clusters, M remembered (subscription, cluster) states. Prices USD, times ms UTC,
proximity and distance in percent of price.

Rules (see docs/alerts.md):
- distance of a cluster = its near edge's distance from price, unsigned %: long (below) ``(price - high) / price``,
  short (above) ``(low - price) / price``; price inside (or beyond) the cluster gives 0.
- approach fires when distance <= proximity, usd >= min_usd, side_share >= min_share, the side is allowed, the
  (subscription, cluster) pair is armed and the subscription's cooldown has passed. At most one approach alert per
  subscription per tick: the nearest qualifying cluster (ties: the bigger one).
- a fired pair is disarmed; it re-arms when distance > 2 x proximity, or when the cluster is swept.
- sweep: price traded through a cluster the subscription was alerted about: a long cluster when the low of the price
  path since the last tick <= the alerted low, a short one when the path high >= the alerted high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

SIDE_LONG = 1
SIDE_SHORT = 2
SIDE_BOTH = SIDE_LONG | SIDE_SHORT
SIDE_BITS = {"long": SIDE_LONG, "short": SIDE_SHORT, "both": SIDE_BOTH}
NEVER = np.iinfo(np.int64).min // 2  # "no alert yet" for last_alert_ms


def side_bits(sides: str) -> int:
    """``'long'|'short'|'both'`` → the bit mask used in ``SubscriptionArrays.side_mask``."""
    try:
        return SIDE_BITS[sides]
    except KeyError:
        raise ValueError(f"unknown sides {sides!r}; use long, short or both") from None


@dataclass(frozen=True)
class ClusterArrays:
    """K clusters of one map: ``is_long`` (K,) bool, ``low``/``high``/``usd`` (K,) USD, ``side_share`` (K,) 0..1: the
    cluster's USD over all pending USD of its own side (what ``min 5%`` in an alert means)."""

    is_long: B
    low: F64
    high: F64
    usd: F64
    side_share: F64

    @property
    def k(self) -> int:
        """Number of clusters."""
        return int(self.low.shape[0])


@dataclass(frozen=True)
class SubscriptionArrays:
    """N subscriptions: ``proximity_pct`` (N,) %, ``min_usd`` (N,) USD, ``min_share`` (N,) 0..1,
    ``side_mask`` (N,) int (1 long, 2 short, 3 both), ``cooldown_ms`` (N,) ms,
    ``last_alert_ms`` (N,) ms of the subscription's latest approach alert (``NEVER`` when none)."""

    proximity_pct: F64
    min_usd: F64
    min_share: F64
    side_mask: I64
    cooldown_ms: I64
    last_alert_ms: I64

    @property
    def n(self) -> int:
        """Number of subscriptions."""
        return int(self.proximity_pct.shape[0])


@dataclass(frozen=True)
class ApproachResult:
    """Outcome of one approach evaluation.

    ``fire`` (N, K) bool: at most one True per row. ``armed`` (N, K) bool: the pair's armed flag after this tick
    (fired pairs disarmed, far pairs re-armed). ``rearmed`` (N, K) bool: pairs that went from disarmed to armed.
    ``distance_pct`` (K,) unsigned distance of each cluster's near edge from price, %.
    """

    fire: B
    armed: B
    rearmed: B
    distance_pct: F64


def cluster_distance_pct(clusters: ClusterArrays, price: float) -> F64:
    """(K,) unsigned % distance of each cluster's near edge from ``price``; 0 when price is inside or beyond it."""
    if price <= 0 or not np.isfinite(price):
        raise ValueError("price must be a positive number")
    gap = np.where(clusters.is_long, price - clusters.high, clusters.low - price)
    return np.maximum(gap, 0.0) / price * 100.0


def evaluate_approach(
    subs: SubscriptionArrays, clusters: ClusterArrays, armed: B, price: float, now_ms: int
) -> ApproachResult:
    """Evaluate N subscriptions against K clusters at ``price`` (USD) and ``now_ms``.

    ``armed`` (N, K) bool is the current hysteresis flag of each pair (True for pairs never alerted).
    Pairs that are swept this tick should be passed as armed (the caller re-arms them first).
    """
    n, k = subs.n, clusters.k
    if armed.shape != (n, k):
        raise ValueError(f"armed must have shape ({n}, {k}), got {armed.shape}")
    dist = cluster_distance_pct(clusters, price)  # (K,)
    if n == 0 or k == 0:
        empty = np.zeros((n, k), dtype=bool)
        return ApproachResult(empty, armed.copy(), empty.copy(), dist)
    prox = subs.proximity_pct[:, None]  # (N, 1)
    side_bit = np.where(clusters.is_long, SIDE_LONG, SIDE_SHORT)[None, :]  # (1, K)
    size_ok = (clusters.usd[None, :] >= subs.min_usd[:, None]) & (
        clusters.side_share[None, :] >= subs.min_share[:, None]
    )
    side_ok = (subs.side_mask[:, None] & side_bit) != 0
    near = dist[None, :] <= prox
    cooled = (now_ms - subs.last_alert_ms) >= subs.cooldown_ms  # (N,)
    candidate = near & size_ok & side_ok & armed & cooled[:, None]
    # one alert per subscription per tick: the nearest candidate, ties broken by the larger cluster
    order_key = np.where(candidate, dist[None, :] - clusters.usd[None, :] * 1e-18, np.inf)
    best = np.argmin(order_key, axis=1)  # (N,)
    has = candidate.any(axis=1)
    fire = np.zeros((n, k), dtype=bool)
    rows = np.flatnonzero(has)
    fire[rows, best[rows]] = True
    far = dist[None, :] > 2.0 * prox
    rearmed = ~armed & far
    new_armed = (armed & ~fire) | far
    return ApproachResult(fire=fire, armed=new_armed, rearmed=rearmed, distance_pct=dist)


def evaluate_sweeps(is_long: B, alerted_low: F64, alerted_high: F64, path_low: float, path_high: float) -> B:
    """(M,) bool: which alerted clusters price traded through since the last tick.

    ``is_long`` (M,) bool side of each remembered cluster, ``alerted_low``/``alerted_high`` (M,) USD its range when
    the subscription was alerted (NaN = never alerted, never swept), ``path_low``/``path_high`` USD the lowest and
    highest price since the last tick.
    """
    with np.errstate(invalid="ignore"):
        through_long = is_long & (path_low <= alerted_low)
        through_short = ~is_long & (path_high >= alerted_high)
    return np.asarray(through_long | through_short, dtype=bool)
