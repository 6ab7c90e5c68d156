"""Cluster snapshots: the clusters of each computed map, so alert history stays explainable."""

from __future__ import annotations

import json
import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.model.types import Cluster, LiqMap
from bot.storage.db import Database
from bot.storage.models import ClusterSnapshot, table_of
from bot.storage.records import SnapshotRec

SNAPSHOTS = table_of(ClusterSnapshot)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def save_snapshot(s: Session, m: LiqMap) -> int:
    """Store the map's clusters and headline numbers (not its grids). Returns the snapshot id."""
    result = s.execute(
        SNAPSHOTS.insert()
        .values(
            symbol=m.symbol,
            window=m.window,
            at=int(m.at),
            price=float(m.price),
            exchanges=",".join(m.exchanges),
            clusters=json.dumps([c.to_json() for c in m.clusters], separators=(",", ":")),
            synthetic=bool(m.synthetic),
            oi_usd=_finite(m.oi_usd),
            funding_rate=_finite(m.funding_rate),
            oi_change_pct=_finite(m.oi_change_pct),
            total_long_usd=m.total_long_usd,
            total_short_usd=m.total_short_usd,
        )
        .returning(SNAPSHOTS.c.id)
    )
    return int(result.scalar_one())


def latest_snapshot(s: Session, symbol: str, window: str, at_or_before: int | None = None) -> SnapshotRec | None:
    """The newest snapshot of (symbol, window), optionally the newest at or before ``at_or_before`` ms UTC."""
    q = select(SNAPSHOTS).where(SNAPSHOTS.c.symbol == symbol, SNAPSHOTS.c.window == window)
    if at_or_before is not None:
        q = q.where(SNAPSHOTS.c.at <= at_or_before)
    row = s.execute(q.order_by(SNAPSHOTS.c.at.desc(), SNAPSHOTS.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    r = row._mapping
    clusters = tuple(Cluster(**c) for c in json.loads(r["clusters"]))
    return SnapshotRec(
        id=r["id"],
        symbol=r["symbol"],
        window=r["window"],
        at=r["at"],
        price=r["price"],
        exchanges=tuple(x for x in r["exchanges"].split(",") if x),
        clusters=clusters,
        synthetic=bool(r["synthetic"]),
        oi_usd=_nan(r["oi_usd"]),
        funding_rate=_nan(r["funding_rate"]),
        oi_change_pct=_nan(r["oi_change_pct"]),
        total_long_usd=r["total_long_usd"],
        total_short_usd=r["total_short_usd"],
    )


def latest_clusters(db: Database, symbol: str, window: str) -> tuple[int, tuple[Cluster, ...]] | None:
    """(as-of UTC ms, clusters) of the newest stored map of (symbol, window): seeds stable cluster ids after a
    restart or a lease hand-over (``MapEngine(previous_store=...)``)."""
    with db.session() as s:
        snap = latest_snapshot(s, symbol, window)
    return None if snap is None else (snap.at, snap.clusters)
