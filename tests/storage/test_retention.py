"""Retention on real SQLite and PostgreSQL: each rule deletes what it should and keeps what it must."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bot.market.types import MarketSeries
from bot.storage import cluster_state, market_cache, outbox, snapshots, ticks
from bot.storage.db import Database
from bot.storage.records import ClusterStateRec
from bot.storage.retention import DAY_MS, RetentionPolicy, prune
from bot.storage.ticks import TickRec
from tests.storage.helpers import T0, make_chat, make_sub, new_alert
from tests.storage.test_repositories import _map

NOW = T0 + 100 * DAY_MS
POLICY = RetentionPolicy()


def series(start: int, n: int) -> MarketSeries:
    ts = start + np.arange(n, dtype=np.int64) * 3_600_000
    one = np.full(n, 60_000.0)
    return MarketSeries("okx", "BTC/USDT:USDT", "1h", ts, one, one, one, one, one, one,
                        oi_timestamp=ts, oi_usd=one, funding_timestamp=ts, funding_rate=one * 1e-4)


def test_prune_applies_each_rule(db: Database) -> None:
    chat = make_chat(db)
    sub = make_sub(db, chat)
    old, recent = NOW - 40 * DAY_MS, NOW - DAY_MS
    with db.session() as s:
        outbox.enqueue(s, [new_alert(chat, sub, "old-sent", old), new_alert(chat, sub, "old-queued", old),
                           new_alert(chat, sub, "new-sent", recent)])
    claimed = outbox.claim(db, "w", 10, NOW, 60_000)
    with db.session() as s:
        for a in claimed:
            if a.dedupe_key != "old-queued":
                outbox.mark_sent(s, a.id, "w", "m", NOW)
        outbox.mark_retry(s, next(a.id for a in claimed if a.dedupe_key == "old-queued"), "w", "x", NOW)
        m = _map(old, 65_000.0, ())
        for at in (old, old + 1, recent):
            snapshots.save_snapshot(s, replace(m, at=at))
        snapshots.save_snapshot(s, replace(m, window="7d", at=old))  # the only (and newest) one of its key
        cluster_state.save_states(s, [ClusterStateRec(sub, "L-old", "long", last_alert_at=old),
                                      ClusterStateRec(sub, "L-new", "long", last_alert_at=recent)])
        market_cache.save_series(s, series(NOW - 50 * DAY_MS, 24 * 10))  # 50..40 days ago: half is past 45 days
        market_cache.save_series(s, series(NOW - 2 * DAY_MS, 24))
        for at in (NOW - 3 * DAY_MS, NOW - 60_000):
            ticks.save_tick(s, TickRec(at, at + 60_000, "job", True, ()))
    with db.session() as s:
        deleted = prune(s, NOW, POLICY)
    assert deleted == {"cluster_snapshots": 2, "alerts": 1, "sub_cluster_state": 1, "market_candles": 120,
                       "market_open_interest": 120, "market_funding": 120, "job_ticks": 1,
                       "liquidation_events": 0, "self_scores": 0}
    with db.session() as s:
        keys = {a.dedupe_key for a in outbox.list_alerts(s, limit=100)}
        assert keys == {"old-queued", "new-sent"}  # an undelivered alert is never pruned
        latest = snapshots.latest_snapshot(s, "BTC/USDT:USDT", "7d")
        assert latest is not None and latest.at == old  # the newest snapshot of a key stays: it seeds cluster ids
        assert set(cluster_state.load_states(s, [sub])) == {(sub, "L-new")}
        loaded = market_cache.load_series(s, "okx", "BTC/USDT:USDT", "1h", 0, NOW)
        assert loaded is not None and loaded.n == 120 + 24
        tick = ticks.latest_tick(s)
        assert tick is not None and tick.at == NOW - 60_000
    with db.session() as s:
        assert not any(prune(s, NOW, POLICY).values())  # idempotent
