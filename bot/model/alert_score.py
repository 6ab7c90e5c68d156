"""Outcome statistics of alerts replayed over history (pure numpy): did price reach the alerted zone within the
horizon and how soon, how much of that side was liquidated inside it, against baselines at the same times and the
same distances from price (the zone mirrored across price; the distances shuffled over the alerts, random side).

Units: prices USD, times ms UTC, distances % of price. A zone is ``[low, high]`` of one side: a long zone sits below
price (its near edge is ``high``), a short zone above (near edge ``low``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.model.scoring import spearman
from bot.model.types import Side

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Zone:
    """A price zone of one side (USD)."""

    side: Side
    low: float
    high: float

    @property
    def near(self) -> float:
        """The edge price meets first: ``high`` of a long zone, ``low`` of a short zone."""
        return self.high if self.side == "long" else self.low

    def distance_pct(self, price: float) -> float:
        """Unsigned % distance of the near edge from ``price`` (0 when price is at or beyond it)."""
        gap = price - self.high if self.side == "long" else self.low - price
        return max(gap, 0.0) / price * 100.0

    def mirrored(self, price: float) -> Zone:
        """The zone reflected across ``price``: the other side, the same width and the same near-edge distance."""
        other: Side = "short" if self.side == "long" else "long"
        return Zone(other, 2.0 * price - self.high, 2.0 * price - self.low)


def zone_at(side: Side, price: float, distance_pct: float, width: float) -> Zone:
    """A zone of ``side`` whose near edge is ``distance_pct`` % from ``price`` and that is ``width`` USD wide."""
    if side == "long":
        near = price * (1.0 - distance_pct / 100.0)
        return Zone("long", near - width, near)
    near = price * (1.0 + distance_pct / 100.0)
    return Zone("short", near, near + width)


@dataclass(frozen=True)
class Candles:
    """The candles outcomes are judged on: ``open_ms`` (n,) int64 open times ascending, ``tf_ms`` their length,
    ``low``/``high`` (n,) USD (wicks)."""

    open_ms: I64
    tf_ms: int
    low: F64
    high: F64

    @property
    def end_ms(self) -> int:
        """Close time of the last candle (0 when there is none)."""
        return int(self.open_ms[-1]) + self.tf_ms if self.open_ms.size else 0

    def minutes_to_reach(self, zone: Zone, t: int, price: float, horizon_ms: int) -> float | None:
        """Minutes from ``t`` until price reached the zone's near edge within ``(t, t + horizon_ms]``, counted to the
        close of the first candle (opened at or after ``t``) whose wick touched it; 0 when ``price`` at ``t`` is
        already there; ``inf`` when it was not reached; None (unknown) when the candles end before
        ``t + horizon_ms``."""
        if t + horizon_ms > self.end_ms:
            return None
        if zone.distance_pct(price) <= 0.0:
            return 0.0
        a = int(np.searchsorted(self.open_ms, t, side="left"))
        b = int(np.searchsorted(self.open_ms, t + horizon_ms - self.tf_ms, side="right"))
        touched = self.low[a:b] <= zone.near if zone.side == "long" else self.high[a:b] >= zone.near
        hit = np.flatnonzero(touched)
        if hit.size == 0:
            return math.inf
        return (int(self.open_ms[a + int(hit[0])]) + self.tf_ms - t) / 60_000.0


@dataclass(frozen=True)
class Outcome:
    """What followed one zone: ``minutes`` to reach it (``inf`` not reached, None unknown) and the USD of its side
    liquidated inside it over the horizon (None when the liquidation record does not cover the alert)."""

    minutes: float | None
    liquidated_usd: float | None

    @property
    def reached(self) -> bool | None:
        """Whether price reached the near edge within the horizon (None when unknown)."""
        return None if self.minutes is None else math.isfinite(self.minutes)

    def to_json(self) -> dict[str, Any]:
        """``reached``, ``minutes`` (null when not reached or unknown) and ``liquidated_usd``."""
        m = self.minutes
        return {
            "reached": self.reached,
            "minutes": m if m is not None and math.isfinite(m) else None,
            "liquidated_usd": self.liquidated_usd,
        }


@dataclass(frozen=True)
class AlertRecord:
    """One approach alert the replay would have sent, at ``t`` with price ``price``, and what followed it: at the
    alerted zone, at the ``mirrored`` zone and at the ``shuffled`` baseline zone."""

    t: int
    price: float
    cluster_id: str
    zone: Zone
    usd: float
    distance_pct: float  # unsigned, %
    score: int
    reasons: str
    outcome: Outcome
    mirrored: Outcome
    shuffled: Outcome

    def to_json(self) -> dict[str, Any]:
        """One ``--dump`` line."""
        return {
            "t": self.t,
            "price": self.price,
            "cluster_id": self.cluster_id,
            "side": self.zone.side,
            "low": self.zone.low,
            "high": self.zone.high,
            "usd": self.usd,
            "distance_pct": self.distance_pct,
            "score": self.score,
            "reasons": self.reasons,
            "outcome": self.outcome.to_json(),
            "mirrored": self.mirrored.to_json(),
            "shuffled": self.shuffled.to_json(),
        }


def shuffled_zones(zones: Sequence[Zone], prices: Sequence[float], seed: int) -> list[Zone]:
    """The random baseline: each alert's zone width at a near-edge distance drawn without replacement from all the
    alerts' distances (a seeded permutation), on a random side. Same times, same distance distribution, no link
    between the zone and the moment."""
    rng = np.random.default_rng(seed)
    n = len(zones)
    dist = np.array([z.distance_pct(p) for z, p in zip(zones, prices, strict=True)], dtype=np.float64)
    perm = rng.permutation(n)
    long_side = rng.random(n) < 0.5
    return [
        zone_at("long" if long_side[i] else "short", prices[i], float(dist[perm[i]]), z.high - z.low)
        for i, z in enumerate(zones)
    ]


def _share(outcomes: Sequence[Outcome]) -> tuple[int, float]:
    known = [o.reached for o in outcomes if o.reached is not None]
    return len(known), (sum(known) / len(known) if known else math.nan)


def _usd(outcomes: Sequence[Outcome]) -> tuple[int, float]:
    known = [o.liquidated_usd for o in outcomes if o.liquidated_usd is not None]
    return len(known), (float(np.mean(known)) if known else math.nan)


def _median_minutes(outcomes: Sequence[Outcome]) -> float:
    m = [o.minutes for o in outcomes if o.minutes is not None and math.isfinite(o.minutes)]
    return float(np.median(m)) if m else math.nan


@dataclass(frozen=True)
class AlertScore:
    """Summary of alert records (NaN where nothing is known). ``reach_n``: alerts whose horizon the candles cover;
    ``usd_n``: alerts the liquidation record covers (their horizon clipped to its end)."""

    alerts: int
    reach_n: int
    reached_share: float
    baseline_reached_share: float
    baseline_random_reached_share: float
    median_minutes_to_reach: float
    baseline_median_minutes_to_reach: float
    usd_n: int
    liquidated_usd_per_alert: float
    baseline_liquidated_usd_per_alert: float
    baseline_random_liquidated_usd_per_alert: float
    score_spearman: float
    score_spearman_reached: float
    mean_score: float

    def to_json(self) -> dict[str, Any]:
        """Plain numbers, NaN as ``None``."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in vars(self).items()}


def score_alerts(records: Sequence[AlertRecord]) -> AlertScore:
    """Shares, USD per alert and the rank correlations of the squeeze-risk score with the outcomes.

    ``score_spearman``: Spearman(score, liquidated USD) over the alerts the record covers; ``score_spearman_reached``:
    Spearman(score, reached 0/1) over the alerts whose horizon the candles cover (NaN with fewer than 3, or when
    the outcome is constant).
    """
    own = [r.outcome for r in records]
    reach_n, reached = _share(own)
    usd_n, usd = _usd(own)
    with_usd = [r for r in records if r.outcome.liquidated_usd is not None]
    with_reach = [r for r in records if r.outcome.reached is not None]
    s_usd = spearman(
        np.array([r.score for r in with_usd], dtype=np.float64),
        np.array([r.outcome.liquidated_usd for r in with_usd], dtype=np.float64),
    )
    s_reach = spearman(
        np.array([r.score for r in with_reach], dtype=np.float64),
        np.array([float(bool(r.outcome.reached)) for r in with_reach], dtype=np.float64),
    )
    return AlertScore(
        alerts=len(records),
        reach_n=reach_n,
        reached_share=reached,
        baseline_reached_share=_share([r.mirrored for r in records])[1],
        baseline_random_reached_share=_share([r.shuffled for r in records])[1],
        median_minutes_to_reach=_median_minutes(own),
        baseline_median_minutes_to_reach=_median_minutes([r.mirrored for r in records]),
        usd_n=usd_n,
        liquidated_usd_per_alert=usd,
        baseline_liquidated_usd_per_alert=_usd([r.mirrored for r in records])[1],
        baseline_random_liquidated_usd_per_alert=_usd([r.shuffled for r in records])[1],
        score_spearman=s_usd,
        score_spearman_reached=s_reach,
        mean_score=float(np.mean([r.score for r in records])) if records else math.nan,
    )
