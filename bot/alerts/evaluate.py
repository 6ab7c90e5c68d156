"""One (symbol, window) evaluation: a map + its subscriptions + their remembered states → new alerts and states.

No I/O: the job loads the inputs and writes the outputs in one transaction. Dedupe keys are
``f"{subscription_id}:{cluster_id}:{kind}:{arm_epoch}"``: a pair alerts at most once per kind per arming, and
``arm_epoch`` grows on every re-arm (price moved beyond 2 x proximity, or the cluster was swept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.alerts.messages import approach_text, sweep_text
from bot.alerts.rules import (
    NEVER,
    ClusterArrays,
    SubscriptionArrays,
    evaluate_approach,
    evaluate_sweeps,
    side_bits,
)
from bot.alerts.score import MarketContext, score_clusters
from bot.model.types import LiqMap
from bot.storage.records import ClusterStateRec, NewAlert, SubscriptionRec

StateKey = tuple[int, str]


@dataclass(frozen=True)
class Evaluation:
    """New outbox rows and the states that changed (only those need writing)."""

    alerts: list[NewAlert]
    states: list[ClusterStateRec]
    silenced_sweeps: int = 0


def cluster_arrays(m: LiqMap) -> ClusterArrays:
    """The map's K clusters as arrays; ``side_share`` is each cluster's USD over its own side's pending USD."""
    cs = m.clusters
    side_total = {"long": m.total_long_usd, "short": m.total_short_usd}
    return ClusterArrays(
        is_long=np.array([c.side == "long" for c in cs], dtype=bool),
        low=np.array([c.low for c in cs], dtype=np.float64),
        high=np.array([c.high for c in cs], dtype=np.float64),
        usd=np.array([c.usd for c in cs], dtype=np.float64),
        side_share=np.array([c.usd / side_total[c.side] if side_total[c.side] > 0 else 0.0 for c in cs],
                            dtype=np.float64),
    )


def subscription_arrays(subs: Sequence[SubscriptionRec], last_alert_ms: np.ndarray) -> SubscriptionArrays:
    """The N subscriptions as arrays; ``last_alert_ms`` (N,) ms of each one's latest approach alert."""
    return SubscriptionArrays(
        proximity_pct=np.array([s.proximity_pct for s in subs], dtype=np.float64),
        min_usd=np.array([s.min_usd for s in subs], dtype=np.float64),
        min_share=np.array([s.min_share for s in subs], dtype=np.float64),
        side_mask=np.array([side_bits(s.sides) for s in subs], dtype=np.int64),
        cooldown_ms=np.array([s.cooldown_s * 1000 for s in subs], dtype=np.int64),
        last_alert_ms=last_alert_ms.astype(np.int64),
    )


def _new_alert(
    sub: SubscriptionRec,
    kind: str,
    cluster_id: str,
    side: str,
    zone: tuple[float, float, float],
    price: float,
    arm_epoch: int,
    now_ms: int,
    text: str,
    *,
    distance_pct: float = 0.0,
    score: int = 0,
    reasons: str = "",
) -> NewAlert:
    """One outbox row for ``sub``; ``zone`` is (low, high, usd). The dedupe key is built here and only here:
    ``{subscription}:{cluster}:{kind}:{arm_epoch}``, so a pair alerts at most once per kind per arming."""
    low, high, usd = zone
    return NewAlert(
        chat_id=sub.chat_id,
        subscription_id=sub.id,
        kind=kind,
        cluster_id=cluster_id,
        side=side,
        low=low,
        high=high,
        usd=usd,
        price=price,
        distance_pct=distance_pct,
        score=score,
        reasons=reasons,
        text=text,
        dedupe_key=f"{sub.id}:{cluster_id}:{kind}:{arm_epoch}",
        created_at=now_ms,
    )


def evaluate_map(
    m: LiqMap,
    subs: Sequence[SubscriptionRec],
    states: Mapping[StateKey, ClusterStateRec],
    now_ms: int,
    path_low: float,
    path_high: float,
    *,
    alert_sweeps: bool = True,
) -> Evaluation:
    """Evaluate every subscription of ``m``'s (symbol, window) in one pass.

    ``path_low``/``path_high`` USD: the price range traded since the previous evaluation. ``alert_sweeps=False``
    records sweeps without alerting (used after a data gap, so old events never alert).
    """
    price = float(m.price)
    sub_index = {s.id: i for i, s in enumerate(subs)}
    work: dict[StateKey, ClusterStateRec] = {k: v for k, v in states.items() if k[0] in sub_index}
    changed: dict[StateKey, ClusterStateRec] = {}
    alerts: list[NewAlert] = []
    silenced = 0

    # 1. sweeps of clusters the subscription was alerted about (they may have left the map already)
    cand = [st for st in work.values() if st.alerted_low is not None and st.alerted_high is not None and not st.swept]
    if cand:
        hit = evaluate_sweeps(
            np.array([st.side == "long" for st in cand], dtype=bool),
            np.array([st.alerted_low for st in cand], dtype=np.float64),
            np.array([st.alerted_high for st in cand], dtype=np.float64),
            path_low,
            path_high,
        )
        for st in (c for c, h in zip(cand, hit.tolist(), strict=True) if h):
            key = (st.subscription_id, st.cluster_id)
            new = replace(st, swept=True, armed=True, arm_epoch=st.arm_epoch + 1, last_price=price)
            work[key] = changed[key] = new
            if not alert_sweeps:
                silenced += 1
                continue
            sub = subs[sub_index[st.subscription_id]]
            low, high, usd = float(st.alerted_low or 0), float(st.alerted_high or 0), float(st.alerted_usd or 0)
            text = sweep_text(
                symbol=m.symbol,
                window=m.window,
                side=st.side,
                low=low,
                high=high,
                usd=usd,
                price=price,
                synthetic=m.synthetic,
                replay_at=m.at if m.replay else None,
            )
            alerts.append(
                _new_alert(sub, "sweep", st.cluster_id, st.side, (low, high, usd), price, st.arm_epoch, now_ms, text)
            )

    # 2. approach: all subscriptions x all clusters at once
    if not subs or not m.clusters:
        return Evaluation(alerts, list(changed.values()), silenced)
    n, k = len(subs), len(m.clusters)
    cl_index = {c.id: j for j, c in enumerate(m.clusters)}
    armed = np.ones((n, k), dtype=bool)
    last = np.full(n, NEVER, dtype=np.int64)
    for (sid, cid), st in work.items():
        i = sub_index[sid]
        if st.last_alert_at is not None:
            last[i] = max(int(last[i]), int(st.last_alert_at))
        j = cl_index.get(cid)
        if j is not None:
            armed[i, j] = st.armed
    ca = cluster_arrays(m)
    res = evaluate_approach(subscription_arrays(subs, last), ca, armed, price, now_ms)
    for i, j in np.argwhere(res.rearmed).tolist():
        key = (subs[i].id, m.clusters[j].id)
        st = work[key]
        work[key] = changed[key] = replace(st, armed=True, arm_epoch=st.arm_epoch + 1, last_price=price)
    fired = np.argwhere(res.fire).tolist()
    if not fired:
        return Evaluation(alerts, list(changed.values()), silenced)
    ctx = MarketContext(m.total_long_usd, m.total_short_usd, m.oi_usd, m.funding_rate, m.oi_change_pct)
    scores = score_clusters(ca, res.distance_pct, ctx)
    for i, j in fired:
        sub, c = subs[i], m.clusters[j]
        key = (sub.id, c.id)
        st = work.get(key) or ClusterStateRec(subscription_id=sub.id, cluster_id=c.id, side=c.side)
        work[key] = changed[key] = replace(
            st,
            side=c.side,
            armed=False,
            swept=False,
            last_alert_at=now_ms,
            last_price=price,
            alerted_low=c.low,
            alerted_high=c.high,
            alerted_usd=c.usd,
        )
        dist = float(res.distance_pct[j])
        score, reasons = int(scores.score[j]), scores.reasons[j]
        text = approach_text(
            symbol=m.symbol,
            window=m.window,
            side=c.side,
            low=c.low,
            high=c.high,
            usd=c.usd,
            price=price,
            distance_pct=dist,
            score=score,
            reasons=reasons,
            synthetic=m.synthetic,
                replay_at=m.at if m.replay else None,
        )
        alerts.append(
            _new_alert(
                sub,
                "approach",
                c.id,
                c.side,
                (c.low, c.high, c.usd),
                price,
                st.arm_epoch,
                now_ms,
                text,
                distance_pct=-dist if c.side == "long" else dist,
                score=score,
                reasons="; ".join(reasons),
            )
        )
    return Evaluation(alerts, list(changed.values()), silenced)
