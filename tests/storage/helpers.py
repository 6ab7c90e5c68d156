"""Small builders for storage/alert tests (real rows, no mocks)."""

from __future__ import annotations

from bot.storage.chats import upsert_chat
from bot.storage.db import Database
from bot.storage.records import NewAlert
from bot.storage.subscriptions import add_subscription

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


def make_chat(db: Database, external_id: str = "100", platform: str = "telegram") -> int:
    """A private chat; returns its id."""
    with db.session() as s:
        return upsert_chat(s, platform, external_id, "private", "tester", at_ms=T0).id


def make_sub(db: Database, chat_id: int, symbol: str = "BTC/USDT:USDT", window: str = "24h") -> int:
    """An enabled 1% subscription; returns its id."""
    with db.session() as s:
        return add_subscription(s, chat_id, symbol=symbol, window=window, proximity_pct=1.0, at_ms=T0).id


def new_alert(chat_id: int, sub_id: int | None, key: str, created_at: int = T0) -> NewAlert:
    """An approach alert with dedupe key ``key``."""
    return NewAlert(
        chat_id=chat_id,
        subscription_id=sub_id,
        kind="approach",
        cluster_id="L-64000",
        side="long",
        low=63_900.0,
        high=64_000.0,
        usd=50e6,
        price=64_500.0,
        distance_pct=-0.78,
        score=71,
        reasons="large vs OI",
        text=f"alert {key}",
        dedupe_key=key,
        created_at=created_at,
    )
