"""One (symbol, window) evaluation: a map + its subscriptions + their remembered states → new alerts and states.

No I/O: the job loads the inputs and writes the outputs in one transaction. Dedupe keys are
``f"{subscription_id}:{cluster_id}:{kind}:{arm_epoch}"``: a pair alerts at most once per kind per arming, and
``arm_epoch`` grows on every re-arm (price moved beyond 2 x proximity, or the cluster was swept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.alerts.messages import approach_text, sweep_confirmation, sweep_text
from bot.alerts.rules import (
    NEVER,
    ClusterArrays,
    SubscriptionArrays,
    evaluate_approach,
    evaluate_sweeps,
    side_bits,
)
from bot.alerts.score import MarketContext, score_clusters
from bot.model.types import LiqMap, window_ms
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


@dataclass
class _Work:
    """The states being evaluated (by (subscription id, cluster id)) and those changed so far."""

    subs: Sequence[SubscriptionRec]
    sub_index: dict[int, int]
    states: dict[StateKey, ClusterStateRec]
    changed: dict[StateKey, ClusterStateRec]

    def update(self, key: StateKey, new: ClusterStateRec) -> None:
        """Record a changed state."""
        self.states[key] = self.changed[key] = new


def _sweep_alerts(m: LiqMap, w: _Work, now_ms: int, path: tuple[float, float], alert_sweeps: bool) -> tuple[
        list[NewAlert], int]:
    """Sweeps of clusters a subscription was alerted about (they may have left the map already): re-arm them and
    write the follow-up, unless ``alert_sweeps`` is False (recorded silently). Returns (alerts, silenced count)."""
    price = float(m.price)
    cand = [st for st in w.states.values()
            if st.alerted_low is not None and st.alerted_high is not None and not st.swept]
    if not cand:
        return [], 0
    hit = evaluate_sweeps(
        np.array([st.side == "long" for st in cand], dtype=bool),
        np.array([st.alerted_low for st in cand], dtype=np.float64),
        np.array([st.alerted_high for st in cand], dtype=np.float64),
        path[0],
        path[1],
    )
    alerts: list[NewAlert] = []
    silenced = 0
    for st in (c for c, h in zip(cand, hit.tolist(), strict=True) if h):
        w.update((st.subscription_id, st.cluster_id),
                 replace(st, swept=True, armed=True, arm_epoch=st.arm_epoch + 1, last_price=price))
        if not alert_sweeps:
            silenced += 1
            continue
        low, high, usd = float(st.alerted_low or 0), float(st.alerted_high or 0), float(st.alerted_usd or 0)
        confirmed = sweep_confirmation(m.prints, side=st.side, low=low, high=high, slack=m.bin_width / 2,
                                       since_ms=int(st.last_alert_at or m.at - window_ms(m.window)), until_ms=m.at)
        text = sweep_text(symbol=m.symbol, window=m.window, side=st.side, low=low, high=high, usd=usd, price=price,
                          synthetic=m.synthetic, replay_at=m.at if m.replay else None, confirmed=confirmed)
        sub = w.subs[w.sub_index[st.subscription_id]]
        alerts.append(_new_alert(sub, "sweep", st.cluster_id, st.side, (low, high, usd), price, st.arm_epoch,
                                 now_ms, text))
    return alerts, silenced


def _armed_and_last_alert(m: LiqMap, w: _Work) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) bool: whether each (subscription, cluster) pair is armed; (N,) ms of each subscription's last alert."""
    cl_index = {c.id: j for j, c in enumerate(m.clusters)}
    armed = np.ones((len(w.subs), len(m.clusters)), dtype=bool)
    last = np.full(len(w.subs), NEVER, dtype=np.int64)
    for (sid, cid), st in w.states.items():
        i = w.sub_index[sid]
        if st.last_alert_at is not None:
            last[i] = max(int(last[i]), int(st.last_alert_at))
        j = cl_index.get(cid)
        if j is not None:
            armed[i, j] = st.armed
    return armed, last


def _approach_alert(m: LiqMap, w: _Work, i: int, j: int, now_ms: int, distance_pct: float,
                    score: tuple[int, Sequence[str]]) -> NewAlert:
    """Disarm pair (i, j) and write its approach alert; ``distance_pct`` is the unsigned distance to the near edge."""
    sub, c, price = w.subs[i], m.clusters[j], float(m.price)
    key = (sub.id, c.id)
    st = w.states.get(key) or ClusterStateRec(subscription_id=sub.id, cluster_id=c.id, side=c.side)
    w.update(key, replace(st, side=c.side, armed=False, swept=False, last_alert_at=now_ms, last_price=price,
                          alerted_low=c.low, alerted_high=c.high, alerted_usd=c.usd))
    points, reasons = score
    text = approach_text(symbol=m.symbol, window=m.window, side=c.side, low=c.low, high=c.high, usd=c.usd,
                         price=price, distance_pct=distance_pct, score=points, reasons=reasons,
                         synthetic=m.synthetic, replay_at=m.at if m.replay else None)
    return _new_alert(sub, "approach", c.id, c.side, (c.low, c.high, c.usd), price, st.arm_epoch, now_ms, text,
                      distance_pct=-distance_pct if c.side == "long" else distance_pct, score=points,
                      reasons="; ".join(reasons))


def _approach_alerts(m: LiqMap, w: _Work, now_ms: int) -> list[NewAlert]:
    """All subscriptions x all clusters at once: re-arm what moved far enough, fire what is near, armed, big enough
    and past its cooldown."""
    price = float(m.price)
    armed, last = _armed_and_last_alert(m, w)
    ca = cluster_arrays(m)
    res = evaluate_approach(subscription_arrays(w.subs, last), ca, armed, price, now_ms)
    for i, j in np.argwhere(res.rearmed).tolist():
        key = (w.subs[i].id, m.clusters[j].id)
        st = w.states[key]
        w.update(key, replace(st, armed=True, arm_epoch=st.arm_epoch + 1, last_price=price))
    fired = np.argwhere(res.fire).tolist()
    if not fired:
        return []
    ctx = MarketContext(m.total_long_usd, m.total_short_usd, m.oi_usd, m.funding_rate, m.oi_change_pct)
    scores = score_clusters(ca, res.distance_pct, ctx)
    return [_approach_alert(m, w, i, j, now_ms, float(res.distance_pct[j]),
                            (int(scores.score[j]), scores.reasons[j])) for i, j in fired]


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
    """Evaluate every subscription of ``m``'s (symbol, window) in one pass: first the sweeps of alerted zones, then
    the approaches.

    ``path_low``/``path_high`` USD: the price range traded since the previous evaluation. ``alert_sweeps=False``
    records sweeps without alerting (used after a data gap, so old events never alert).
    """
    sub_index = {s.id: i for i, s in enumerate(subs)}
    w = _Work(subs, sub_index, {k: v for k, v in states.items() if k[0] in sub_index}, {})
    alerts, silenced = _sweep_alerts(m, w, now_ms, (path_low, path_high), alert_sweeps)
    if subs and m.clusters:
        alerts += _approach_alerts(m, w, now_ms)
    return Evaluation(alerts, list(w.changed.values()), silenced)
