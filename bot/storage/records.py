"""Plain frozen records returned by the repositories (never ORM objects). Times UTC ms, money USD."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.model.types import Cluster

Platform = Literal["telegram", "discord"]
ChatKind = Literal["private", "group", "channel"]
Sides = Literal["long", "short", "both"]
AlertKind = Literal["approach", "sweep"]
AlertState = Literal["queued", "sending", "sent", "failed"]

PLATFORMS: tuple[str, ...] = ("telegram", "discord")
CHAT_KINDS: tuple[str, ...] = ("private", "group", "channel")
SIDES: tuple[str, ...] = ("long", "short", "both")
ALERT_KINDS: tuple[str, ...] = ("approach", "sweep")
ALERT_STATES: tuple[str, ...] = ("queued", "sending", "sent", "failed")


@dataclass(frozen=True)
class ChatRec:
    """A chat the bot talks to; ``active`` is False after it blocked/removed the bot (``blocked_reason``)."""

    id: int
    platform: str
    external_id: str
    kind: str
    title: str
    active: bool
    blocked_reason: str | None
    created_at: int
    deliver_to: str | None = None


@dataclass(frozen=True)
class SubscriptionRec:
    """One alert rule: proximity in %, minimum cluster size in USD and as a share (0..1), cooldown in s."""

    id: int
    chat_id: int
    symbol: str
    window: str
    proximity_pct: float
    min_usd: float
    min_share: float
    sides: str
    cooldown_s: int
    enabled: bool
    created_at: int
    updated_at: int
    kind: str = "zone"  # 'zone' | 'position' (then ``sides`` is the position's side)
    entry_price: float | None = None  # USD, position alerts
    leverage: float | None = None  # position alerts
    size_usd: float | None = None  # notional USD, position alerts
    exchange: str | None = None  # whose liquidation formula and tiers, position alerts
    liq_price: float | None = None  # USD, the position's liquidation price when the alert was created


@dataclass(frozen=True)
class ClusterStateRec:
    """Hysteresis/sweep memory of one (subscription, cluster): prices USD, ``last_alert_at`` ms UTC.

    ``arm_epoch`` counts re-arms, so a dedupe key like ``f"{sub}:{cluster}:{kind}:{arm_epoch}"`` is unique per
    arming.
    """

    subscription_id: int
    cluster_id: str
    side: str
    armed: bool = True
    swept: bool = False
    last_alert_at: int | None = None
    last_price: float | None = None
    alerted_low: float | None = None
    alerted_high: float | None = None
    alerted_usd: float | None = None
    arm_epoch: int = 0


@dataclass(frozen=True)
class AlertContent:
    """What an alert says and about which cluster: shared by a new alert and a stored outbox row."""

    chat_id: int
    subscription_id: int | None
    kind: str
    cluster_id: str
    side: str
    low: float
    high: float
    usd: float
    price: float
    distance_pct: float
    score: int
    reasons: str
    text: str
    dedupe_key: str
    created_at: int


@dataclass(frozen=True)
class NewAlert(AlertContent):
    """An alert to put into the outbox. ``dedupe_key`` is unique: enqueueing it twice keeps one row."""

    next_attempt_at: int | None = None  # None = created_at (send as soon as possible)


@dataclass(frozen=True)
class AlertRec(AlertContent):
    """One outbox row as stored, with its delivery state."""

    id: int
    state: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    message_id: str | None
    claimed_by: str | None
    claimed_until: int | None
    sent_at: int | None


@dataclass(frozen=True)
class SnapshotRec:
    """The clusters of one computed map (``at`` ms UTC, ``price`` USD); NaN where the map had no value."""

    id: int
    symbol: str
    window: str
    at: int
    price: float
    exchanges: tuple[str, ...]
    clusters: tuple[Cluster, ...]
    synthetic: bool
    oi_usd: float = float("nan")
    funding_rate: float = float("nan")
    oi_change_pct: float = float("nan")
    total_long_usd: float = 0.0
    total_short_usd: float = 0.0
