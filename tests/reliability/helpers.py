"""Shared pieces of the reliability tests: subscribe many chats, read the outbox as a multiset, expected sets."""

from __future__ import annotations

from collections import Counter

from bot.storage import chats, outbox, subscriptions
from bot.storage.db import Database
from bot.storage.records import AlertRec


def subscribe(
    db: Database, n: int, *, first_chat: int = 1000, symbol: str = "BTC/USDT:USDT", window: str = "24h",
    proximity_pct: float = 20.0, platform: str = "telegram", at_ms: int = 0, cooldown_s: int = 1800,
) -> list[int]:
    """``n`` chats (external ids ``first_chat``...) with one wide subscription each; returns the subscription ids.

    The cooldown is the production default (30 min): one alert per subscription over repeated ticks at the same
    time. A test about another value passes ``cooldown_s`` and says why (with 0, a wide subscription alerts the next
    armed cluster on every tick, by design)."""
    ids = []
    with db.session() as s:
        for i in range(n):
            chat = chats.upsert_chat(s, platform, str(first_chat + i), "private", "t", at_ms=at_ms or None)
            sub = subscriptions.add_subscription(s, chat.id, symbol=symbol, window=window, proximity_pct=proximity_pct,
                                                 cooldown_s=cooldown_s, at_ms=at_ms or None)
            ids.append(sub.id)
    return ids


def alerts(db: Database, state: str | None = None) -> list[AlertRec]:
    """Every outbox row (or those in ``state``), oldest first."""
    with db.session() as s:
        return sorted(outbox.list_alerts(s, state=state, limit=1_000_000), key=lambda a: a.id)


def keys(db: Database) -> Counter[str]:
    """The outbox's dedupe keys as a multiset (a duplicate would show as a count of 2)."""
    return Counter(a.dedupe_key for a in alerts(db))


def counts(db: Database) -> dict[str, int]:
    """Outbox rows per state."""
    with db.session() as s:
        return outbox.counts(s)
