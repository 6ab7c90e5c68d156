"""Per (subscription, cluster) hysteresis and sweep memory: bulk load and bulk upsert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from bot.storage.db import upsert_insert
from bot.storage.models import SubClusterState, Subscription, table_of
from bot.storage.records import ClusterStateRec

STATES = table_of(SubClusterState)
CHUNK = 5000  # ids per IN (...) list, well under SQLite's and PostgreSQL's bound-parameter limits
_UPDATABLE = (
    "side",
    "armed",
    "swept",
    "last_alert_at",
    "last_price",
    "alerted_low",
    "alerted_high",
    "alerted_usd",
    "arm_epoch",
)


def load_states(s: Session, sub_ids: Iterable[int]) -> dict[tuple[int, str], ClusterStateRec]:
    """All stored states of these subscriptions, keyed by (subscription_id, cluster_id)."""
    ids = sorted(set(sub_ids))
    out: dict[tuple[int, str], ClusterStateRec] = {}
    for i in range(0, len(ids), CHUNK):
        rows = s.execute(select(STATES).where(STATES.c.subscription_id.in_(ids[i : i + CHUNK]))).all()
        for row in rows:
            rec = ClusterStateRec(**row._mapping)
            out[(rec.subscription_id, rec.cluster_id)] = rec
    return out


def load_states_for(s: Session, symbol: str, window: str) -> dict[tuple[int, str], ClusterStateRec]:
    """States of every subscription on (symbol, window) in one query (no id list)."""
    rows = s.execute(
        select(STATES)
        .join(Subscription.__table__, Subscription.id == STATES.c.subscription_id)
        .where(Subscription.symbol == symbol, Subscription.window == window)
    ).all()
    out: dict[tuple[int, str], ClusterStateRec] = {}
    for row in rows:
        rec = ClusterStateRec(**row._mapping)
        out[(rec.subscription_id, rec.cluster_id)] = rec
    return out


def save_states(s: Session, recs: Iterable[ClusterStateRec]) -> int:
    """Insert or update every record (one batched ``INSERT ... ON CONFLICT DO UPDATE``). Returns rows written."""
    rows = [asdict(r) for r in recs]
    if not rows:
        return 0
    stmt = upsert_insert(s, STATES)
    stmt = stmt.on_conflict_do_update(
        index_elements=[STATES.c.subscription_id, STATES.c.cluster_id],
        set_={name: stmt.excluded[name] for name in _UPDATABLE},
    )
    s.execute(stmt, rows)
    return len(rows)


def delete_states(s: Session, keys: Iterable[tuple[int, str]]) -> int:
    """Forget states (e.g. of clusters that disappeared). Returns the number of keys given."""
    keys = list(keys)
    for i in range(0, len(keys), CHUNK):
        part = keys[i : i + CHUNK]
        s.execute(STATES.delete().where(tuple_(STATES.c.subscription_id, STATES.c.cluster_id).in_(part)))
    return len(keys)
