"""Shared pieces of the alert tests: a controllable clock, the sim-backed job, a recording notifier, DB setup."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.alerts.job import AlertJob
from bot.alerts.notifier import ChatBlocked, TransientSendError
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec

NOW = 1_780_000_000_000  # the sim's BTC/USDT map here has a long cluster 0.15% below price (L-bb5877fa)
NEAREST = "L-bb5877fa"
EXCHANGES = ("binanceusdm", "bybit", "okx")


@dataclass
class Clock:
    """A controllable UTC ms clock."""

    now: int = NOW

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


def settings(tick_seconds: float = 60.0) -> Settings:
    return Settings(tick_seconds=tick_seconds, source="sim", _env_file=None)  # type: ignore[call-arg]


def make_job(db: Database, clock: Clock, source: SimSource | None = None, holder: str = "job-test") -> AlertJob:
    src = source or SimSource(EXCHANGES, seed=7)
    return AlertJob(db, MapEngine(src), settings(), clock, holder=holder)


def add_sub(db: Database, external_id: str = "100", platform: str = "telegram", **kw: object) -> SubscriptionRec:
    """Register a chat and give it one subscription (BTC/USDT 24h 1% both sides; every other value the production
    default, the 30 min cooldown included, unless a test is about another value and passes it)."""
    values: dict[str, object] = {"symbol": "BTC/USDT:USDT", "window": "24h", "proximity_pct": 1.0}
    values.update(kw)
    with db.session() as s:
        chat = chats.upsert_chat(s, platform, external_id, "private", "t", at_ms=NOW)
        return subscriptions.add_subscription(s, chat.id, at_ms=NOW, **values)  # type: ignore[arg-type]


@dataclass
class RecordingNotifier:
    """A stand-in chat platform: records what it received; ``fail`` scripts the next outcomes."""

    received: list[tuple[str, str]] = field(default_factory=list)
    fail: list[str] = field(default_factory=list)  # 'blocked' | 'transient' | 'boom'

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        if self.fail:
            what = self.fail.pop(0)
            if what == "blocked":
                raise ChatBlocked("Forbidden: bot was blocked by the user")
            if what == "transient":
                raise TransientSendError("Timed out connecting")
            raise RuntimeError("boom")
        self.received.append((chat_external_id, text))
        return f"m{len(self.received)}"
