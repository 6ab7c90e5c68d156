"""Position alerts: price near a user's own liquidation price, or near a dense cluster between price and it.

No I/O, like ``bot.alerts.evaluate``: the job passes the map, the enabled position subscriptions of its
(symbol, window) and their stored states, and writes the returned alerts and states in its one transaction.

Each subscription watches targets, each with a state row keyed (subscription, target id): ``liq`` (its liquidation
price, the exchange's isolated formula with its bundled tiers) and every own-side cluster of the map between
price and that level (the cluster's id). The rules are the zone alerts' (``bot.alerts.rules``): a target fires when
its distance from price is <= the subscription's ``proximity_pct``, it is armed and the subscription's cooldown has
passed; at most one alert per subscription per tick, the liquidation level first, else the nearest cluster; a fired
target re-arms once its distance exceeds 2 x proximity (``arm_epoch`` + 1). Dedupe keys are the zone alerts'
``{subscription}:{target}:approach:{arm_epoch}`` (``bot.alerts.evaluate._new_alert``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.alerts.evaluate import Evaluation, StateKey, _new_alert
from bot.alerts.messages import with_footer
from bot.alerts.rules import NEVER, ClusterArrays, cluster_distance_pct
from bot.format import fmt_pct, fmt_price, fmt_range, fmt_usd
from bot.market.symbols import display_symbol
from bot.model.risk import Position, bundled_tiers, clusters_between, distance_pct, liq_price
from bot.model.types import Cluster, LiqMap
from bot.storage.records import ClusterStateRec, NewAlert, SubscriptionRec

LIQ_TARGET = "liq"
REARM_FACTOR = 2.0  # as the zone alerts: re-arm beyond 2 x proximity


@dataclass(frozen=True)
class Target:
    """One thing a position alert watches: ``id`` ('liq' or a cluster id), ``low``/``high``/``usd`` USD,
    ``distance_pct`` unsigned % from price (0 at or beyond it)."""

    id: str
    side: str
    low: float
    high: float
    usd: float
    distance_pct: float


def fmt_liq(x: float) -> str:
    """A liquidation price to the cent, as exchanges show it (``59,136.55``); ``n/a`` when there is none."""
    return f"{x:,.2f}" if math.isfinite(x) else "n/a"


def position_of(sub: SubscriptionRec) -> Position:
    """The model's position of a position subscription (``sides`` holds its side)."""
    return Position(side=1 if sub.sides == "long" else -1, entry=float(sub.entry_price or 0.0),
                    leverage=float(sub.leverage or 1.0), size_usd=float(sub.size_usd or 0.0),
                    inverse=sub.exchange == "binancecoinm", formula="bybit" if sub.exchange == "bybit" else "binance")


def sub_liq_price(sub: SubscriptionRec) -> float:
    """The liquidation price USD of a position subscription: the one computed when it was created (the tiers read
    then, live where the exchange gave them), else from the bundled tiers of its symbol; NaN when none."""
    if sub.liq_price is not None and math.isfinite(sub.liq_price):
        return float(sub.liq_price)
    pos = position_of(sub)
    return liq_price(pos, bundled_tiers(pos.inverse, pos.formula))


def targets_of(m: LiqMap, sub: SubscriptionRec) -> list[Target]:
    """What ``sub`` watches on ``m``: its liquidation level first, then the own-side clusters between price and it,
    nearest first; nothing when the position has no liquidation price."""
    pos = position_of(sub)
    level = sub_liq_price(sub)
    if not math.isfinite(level):  # e.g. a 1x long: never liquidated, nothing to watch
        return []
    room = max(distance_pct(m.price, level, pos.side), 0.0)
    out = [Target(LIQ_TARGET, sub.sides, level, level, 0.0, room)]
    between = clusters_between(m.clusters, m.price, level, pos.side)
    if between:
        dist = cluster_distance_pct(_arrays(between), m.price)
        out += [Target(c.id, c.side, c.low, c.high, c.usd, float(d)) for c, d in zip(between, dist, strict=True)]
    return out


def _arrays(cs: Sequence[Cluster]) -> ClusterArrays:
    """Clusters as the rules' arrays (only side and range matter for distances)."""
    return ClusterArrays(
        is_long=np.array([c.side == "long" for c in cs], dtype=bool),
        low=np.array([c.low for c in cs], dtype=np.float64),
        high=np.array([c.high for c in cs], dtype=np.float64),
        usd=np.array([c.usd for c in cs], dtype=np.float64),
        side_share=np.zeros(len(cs), dtype=np.float64),
    )


def position_text(m: LiqMap, sub: SubscriptionRec, t: Target) -> str:
    """The alert: how far price is from the user's liquidation price, or from a cluster on the way to it."""
    sym, price, level = display_symbol(m.symbol), fmt_price(m.price, full=True), sub_liq_price(sub)
    head = (f"{sym} {sub.sides} {fmt_price(float(sub.entry_price or 0), full=True)} {float(sub.leverage or 0):g}x "
            f"({sub.exchange}, isolated)")
    side = 1 if sub.sides == "long" else -1
    if t.id == LIQ_TARGET and distance_pct(m.price, level, side) <= 0:
        lines = [f"🚨 {sym}: price {price} has reached your liquidation price {fmt_liq(level)}: an isolated position "
                 "like this would be liquidated", f"Position: {head}"]
    elif t.id == LIQ_TARGET:
        lines = [f"🚨 {sym}: price {price} is {fmt_pct(t.distance_pct, 2, signed=False)} from your liquidation price "
                 f"{fmt_liq(level)}", f"Position: {head}"]
    else:
        lines = [f"⚠️ {sym}: price {price} is {fmt_pct(t.distance_pct, 2, signed=False)} from a {t.side} cluster "
                 f"{fmt_range(t.low, t.high)} ({fmt_usd(t.usd)}) between price and your liquidation price "
                 f"{fmt_liq(level)}",
                 f"A cascade through it can carry price to your level. Position: {head}"]
    return with_footer(lines, m.synthetic, m.at if m.replay else None)


def _evaluate_one(m: LiqMap, sub: SubscriptionRec, states: dict[StateKey, ClusterStateRec], now_ms: int,
                  changed: dict[StateKey, ClusterStateRec]) -> NewAlert | None:
    """Re-arm far targets and fire at most one near, armed target of ``sub`` (``states`` updated in place)."""
    prox = sub.proximity_pct
    last = max((st.last_alert_at for (sid, _), st in states.items() if sid == sub.id and st.last_alert_at is not None),
               default=int(NEVER))
    cooled = now_ms - last >= sub.cooldown_s * 1000
    fire: Target | None = None
    for t in targets_of(m, sub):
        key = (sub.id, t.id)
        st = states.get(key)
        if st is not None and not st.armed and t.distance_pct > REARM_FACTOR * prox:
            st = states[key] = changed[key] = replace(st, armed=True, arm_epoch=st.arm_epoch + 1, last_price=m.price)
        armed = st is None or st.armed
        if fire is None and armed and cooled and t.distance_pct <= prox:
            fire = t
    if fire is None:
        return None
    key = (sub.id, fire.id)
    st = states.get(key) or ClusterStateRec(subscription_id=sub.id, cluster_id=fire.id, side=fire.side)
    states[key] = changed[key] = replace(st, side=fire.side, armed=False, last_alert_at=now_ms, last_price=m.price)
    zone = (fire.low, fire.high, fire.usd)
    signed = -fire.distance_pct if fire.side == "long" else fire.distance_pct
    return _new_alert(sub, "approach", fire.id, fire.side, zone, float(m.price), st.arm_epoch, now_ms,
                      position_text(m, sub, fire), distance_pct=signed,
                      reasons="liquidation price" if fire.id == LIQ_TARGET else "cluster before your liquidation price")


def evaluate_positions(m: LiqMap, subs: Sequence[SubscriptionRec],
                       states: Mapping[StateKey, ClusterStateRec], now_ms: int) -> Evaluation:
    """Evaluate every position subscription of ``m``'s (symbol, window): new alerts and the changed states."""
    work = {k: v for k, v in states.items() if k[0] in {s.id for s in subs}}
    changed: dict[StateKey, ClusterStateRec] = {}
    alerts = [a for s in subs if s.kind == "position" and math.isfinite(m.price) and m.price > 0
              for a in [_evaluate_one(m, s, work, now_ms, changed)] if a is not None]
    return Evaluation(alerts, list(changed.values()))


def position_line(sub: SubscriptionRec) -> str:
    """``BTCUSDT long 62,000 20x $10k on binanceusdm · liq 59,136.55 · within 2% · cooldown 30m`` (+ ``· paused``)."""
    parts = [f"{display_symbol(sub.symbol)} {sub.sides} {fmt_price(float(sub.entry_price or 0), full=True)} "
             f"{float(sub.leverage or 0):g}x {fmt_usd(float(sub.size_usd or 0))} on {sub.exchange}",
             f"liq {fmt_liq(sub_liq_price(sub))} (isolated)",
             f"within {fmt_pct(sub.proximity_pct, 2, signed=False)} of it or of a cluster before it",
             f"cooldown {sub.cooldown_s // 60}m"]
    if not sub.enabled:
        parts.append("paused")
    return "position " + " · ".join(parts)
