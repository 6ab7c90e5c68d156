"""Retention: what the database keeps, so that its size stays bounded however long the bot runs.

Defaults (``RetentionPolicy``; ``LIQMAP_RETENTION_DAYS`` sets ``history_ms``):
- cluster snapshots older than ``history_ms`` (30 days) go, except the newest of each (symbol, window), which seeds
  stable cluster ids after a restart;
- delivered or failed outbox rows older than ``history_ms`` go (queued and sending rows always stay);
- per-(subscription, cluster) states whose last alert is older than ``history_ms`` go (the zone is long gone);
- cached candles, open interest and funding older than ``market_ms`` (45 days: the 30d window plus its warm-up);
- job tick rows older than ``ticks_ms`` (2 days);
- real liquidation events older than ``market_ms`` (like the other market data), self-scores older than
  ``history_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from bot.storage.models import (
    Alert,
    ClusterSnapshot,
    JobTick,
    LiquidationEvent,
    MarketCandle,
    MarketFunding,
    MarketOpenInterest,
    SelfScore,
    SubClusterState,
    table_of,
)

DAY_MS = 86_400_000


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of row is kept, ms."""

    history_ms: int = 30 * DAY_MS
    market_ms: int = 45 * DAY_MS
    ticks_ms: int = 2 * DAY_MS
    every_ms: int = 3_600_000  # how often the job prunes


def _older(s: Session, table: Table, column: str, cutoff: int, *extra: object) -> int:
    result = s.execute(delete(table).where(table.c[column] < cutoff, *extra))  # type: ignore[arg-type]
    return int(getattr(result, "rowcount", 0) or 0)


def _snapshots(s: Session, cutoff: int) -> int:
    snaps = table_of(ClusterSnapshot)
    newest = select(func.max(snaps.c.id)).group_by(snaps.c.symbol, snaps.c.window).scalar_subquery()
    return _older(s, snaps, "at", cutoff, snaps.c.id.not_in(newest))


def prune(s: Session, now_ms: int, policy: RetentionPolicy = RetentionPolicy()) -> dict[str, int]:
    """Delete what the policy no longer keeps, as of ``now_ms``; returns rows deleted per table."""
    history = now_ms - policy.history_ms
    alerts = table_of(Alert)
    market = now_ms - policy.market_ms
    return {
        "cluster_snapshots": _snapshots(s, history),
        "alerts": _older(s, alerts, "created_at", history, alerts.c.state.in_(("sent", "failed"))),
        "sub_cluster_state": _older(s, table_of(SubClusterState), "last_alert_at", history),
        "market_candles": _older(s, table_of(MarketCandle), "ts", market),
        "market_open_interest": _older(s, table_of(MarketOpenInterest), "ts", market),
        "market_funding": _older(s, table_of(MarketFunding), "ts", market),
        "job_ticks": _older(s, table_of(JobTick), "at", now_ms - policy.ticks_ms),
        "liquidation_events": _older(s, table_of(LiquidationEvent), "ts", market),
        "self_scores": _older(s, table_of(SelfScore), "at", history),
    }
