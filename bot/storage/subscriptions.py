"""Subscriptions repository: a chat's alert rules, and the lookups the periodic job needs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.clock import wall_ms as now_ms
from bot.errors import LiqmapError
from bot.storage.models import Chat, Subscription, table_of
from bot.storage.records import SIDES, SubscriptionRec

SUBS = table_of(Subscription)


def _rec(x: Subscription) -> SubscriptionRec:
    return SubscriptionRec(
        id=x.id,
        chat_id=x.chat_id,
        symbol=x.symbol,
        window=x.window,
        proximity_pct=x.proximity_pct,
        min_usd=x.min_usd,
        min_share=x.min_share,
        sides=x.sides,
        cooldown_s=x.cooldown_s,
        enabled=x.enabled,
        created_at=x.created_at,
        updated_at=x.updated_at,
        kind=x.kind,
        entry_price=x.entry_price,
        leverage=x.leverage,
        size_usd=x.size_usd,
        exchange=x.exchange,
        liq_price=x.liq_price,
    )


def _validate(proximity_pct: float, min_usd: float, min_share: float, sides: str, cooldown_s: int) -> None:
    if not (math.isfinite(proximity_pct) and 0 < proximity_pct <= 50):
        raise LiqmapError(f"proximity must be between 0% and 50%, got {proximity_pct}%")
    if not (math.isfinite(min_usd) and min_usd >= 0):
        raise LiqmapError(f"minimum size must be a positive USD amount, got {min_usd}")
    if not (math.isfinite(min_share) and 0 <= min_share <= 1):
        raise LiqmapError(f"minimum share must be between 0 and 1, got {min_share}")
    if sides not in SIDES:
        raise LiqmapError(f"side must be one of {', '.join(SIDES)}, got {sides!r}")
    if cooldown_s < 0:
        raise LiqmapError(f"cooldown must be zero or more seconds, got {cooldown_s}")


@dataclass(frozen=True)
class PositionFields:
    """What a position alert stores besides a zone alert's fields: entry USD, leverage, notional USD, exchange and
    the liquidation price USD computed when it was created (NaN: computed from the bundled tiers when read)."""

    entry_price: float
    leverage: float
    size_usd: float
    exchange: str
    liq_price: float = float("nan")


def _validate_position(p: PositionFields, sides: str) -> None:
    if sides not in ("long", "short"):
        raise LiqmapError(f"a position alert's side is long or short, got {sides!r}")
    for name, value, low in (("entry", p.entry_price, 0.0), ("size", p.size_usd, 0.0), ("leverage", p.leverage, 1.0)):
        if not (math.isfinite(value) and value >= low and value > 0):
            raise LiqmapError(f"a position alert's {name} must be a positive number, got {value}")


def add_subscription(
    s: Session,
    chat_id: int,
    *,
    symbol: str,
    window: str,
    proximity_pct: float,
    min_usd: float = 0.0,
    min_share: float = 0.0,
    sides: str = "both",
    cooldown_s: int = 1800,
    limit_per_chat: int = 20,
    at_ms: int | None = None,
    position: PositionFields | None = None,
) -> SubscriptionRec:
    """Store a new enabled subscription. ``LiqmapError`` when the chat is unknown, a value is out of range,
    or the chat already has ``limit_per_chat`` subscriptions (paused ones count). The chat row is locked
    (``FOR UPDATE``) so concurrent adds cannot pass the limit; on SQLite every session takes the write lock at BEGIN.
    ``position`` makes it a position alert (kind 'position'; ``sides`` must then be the position's side)."""
    _validate(proximity_pct, min_usd, min_share, sides, cooldown_s)
    if position is not None:
        _validate_position(position, sides)
    if s.get(Chat, chat_id, with_for_update=True) is None:  # PostgreSQL: concurrent adds of a chat queue here
        raise LiqmapError(f"unknown chat {chat_id}")
    n = s.scalar(select(func.count()).select_from(Subscription).where(Subscription.chat_id == chat_id)) or 0
    if n >= limit_per_chat:
        raise LiqmapError(
            f"this chat already has {n} alerts (the limit is {limit_per_chat}); remove one with `alert remove <id>`"
        )
    t = now_ms() if at_ms is None else at_ms
    sub = Subscription(
        chat_id=chat_id,
        symbol=symbol,
        window=window,
        proximity_pct=float(proximity_pct),
        min_usd=float(min_usd),
        min_share=float(min_share),
        sides=sides,
        cooldown_s=int(cooldown_s),
        enabled=True,
        created_at=t,
        updated_at=t,
        kind="zone" if position is None else "position",
        entry_price=None if position is None else float(position.entry_price),
        leverage=None if position is None else float(position.leverage),
        size_usd=None if position is None else float(position.size_usd),
        exchange=None if position is None else position.exchange,
        liq_price=None if position is None or not math.isfinite(position.liq_price) else float(position.liq_price),
    )
    s.add(sub)
    s.flush()
    return _rec(sub)


def list_subscriptions(s: Session, chat_id: int) -> list[SubscriptionRec]:
    """All subscriptions of a chat (enabled and paused), oldest first."""
    rows = s.scalars(select(Subscription).where(Subscription.chat_id == chat_id).order_by(Subscription.id)).all()
    return [_rec(x) for x in rows]


def get_subscription(s: Session, sub_id: int) -> SubscriptionRec | None:
    """The subscription with this id, or None."""
    sub = s.get(Subscription, sub_id)
    return _rec(sub) if sub is not None else None


def remove_subscription(s: Session, chat_id: int, sub_id: int) -> bool:
    """Delete the chat's subscription ``sub_id`` (its cluster state goes with it); False if it is not theirs."""
    result = s.execute(
        delete(Subscription)
        .where(Subscription.id == sub_id, Subscription.chat_id == chat_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def set_enabled(s: Session, chat_id: int, sub_id: int | None, enabled: bool, *, at_ms: int | None = None) -> int:
    """Pause/resume one subscription of the chat (``sub_id``) or all of them (None). Returns rows changed."""
    stmt = update(Subscription).where(Subscription.chat_id == chat_id, Subscription.enabled != enabled)
    if sub_id is not None:
        stmt = stmt.where(Subscription.id == sub_id)
    result = s.execute(
        stmt.values(enabled=enabled, updated_at=now_ms() if at_ms is None else at_ms).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_keys(s: Session) -> list[tuple[str, str]]:
    """Distinct (symbol, window) over enabled subscriptions of active chats, sorted."""
    rows = s.execute(
        select(Subscription.symbol, Subscription.window)
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Subscription.enabled.is_(True), Chat.active.is_(True))
        .distinct()
        .order_by(Subscription.symbol, Subscription.window)
    ).all()
    return [(r[0], r[1]) for r in rows]


def subscriptions_for(s: Session, symbol: str, window: str, kind: str = "zone") -> list[SubscriptionRec]:
    """Enabled subscriptions of active chats for (symbol, window) of ``kind`` ('zone' by default: the cluster
    alerts; 'position': the position alerts), by id."""
    rows = s.execute(
        select(SUBS)
        .join(Chat.__table__, Chat.id == Subscription.chat_id)
        .where(
            Subscription.symbol == symbol,
            Subscription.window == window,
            Subscription.enabled.is_(True),
            Subscription.kind == kind,
            Chat.active.is_(True),
        )
        .order_by(Subscription.id)
    ).all()
    return [SubscriptionRec(**row._mapping) for row in rows]
