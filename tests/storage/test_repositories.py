"""Chats, subscriptions, cluster state and snapshots on real SQLite and PostgreSQL."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.errors import LiqmapError
from bot.model.types import Cluster, LiqMap
from bot.storage import chats, cluster_state, snapshots, subscriptions
from bot.storage.db import Database
from bot.storage.records import ClusterStateRec
from tests.storage.helpers import T0, make_chat, make_sub

BTC = "BTC/USDT:USDT"


def test_upsert_chat_is_idempotent_and_reactivates(db: Database) -> None:
    with db.session() as s:
        first = chats.upsert_chat(s, "telegram", "42", "group", "Desk", at_ms=T0)
        again = chats.upsert_chat(s, "telegram", "42", "group", at_ms=T0 + 5)
        other = chats.upsert_chat(s, "discord", "42", "channel", "alerts", at_ms=T0)
    assert again.id == first.id and again.title == "Desk" and again.created_at == T0
    assert other.id != first.id
    with db.session() as s:
        chats.deactivate_chat(s, first.id, "Forbidden")
        rec = chats.get_chat(s, first.id)
    assert rec is not None and not rec.active and rec.blocked_reason == "Forbidden"
    with db.session() as s:
        back = chats.upsert_chat(s, "telegram", "42", "group", "Desk 2")
        assert chats.find_chat(s, "telegram", "42") == back
        assert set(chats.get_chats(s, [first.id, other.id, 999])) == {first.id, other.id}
    assert back.active and back.blocked_reason is None and back.title == "Desk 2"


def test_upsert_chat_rejects_unknown_platform_and_kind(db: Database) -> None:
    with db.session() as s, pytest.raises(LiqmapError, match="platform"):
        chats.upsert_chat(s, "signal", "1", "private")
    with db.session() as s, pytest.raises(LiqmapError, match="chat kind"):
        chats.upsert_chat(s, "telegram", "1", "forum")


def test_subscription_limit_and_validation(db: Database) -> None:
    chat = make_chat(db)
    with db.session() as s:
        for pct in (0.5, 1.0, 2.0):
            subscriptions.add_subscription(s, chat, symbol=BTC, window="24h", proximity_pct=pct, limit_per_chat=3)
    with db.session() as s, pytest.raises(LiqmapError, match="limit is 3"):
        subscriptions.add_subscription(s, chat, symbol=BTC, window="24h", proximity_pct=1.0, limit_per_chat=3)
    with db.session() as s, pytest.raises(LiqmapError, match="proximity"):
        subscriptions.add_subscription(s, chat, symbol=BTC, window="24h", proximity_pct=-1.0)
    with db.session() as s, pytest.raises(LiqmapError, match="side"):
        subscriptions.add_subscription(s, chat, symbol=BTC, window="24h", proximity_pct=1.0, sides="up")
    with db.session() as s, pytest.raises(LiqmapError, match="unknown chat"):
        subscriptions.add_subscription(s, 999, symbol=BTC, window="24h", proximity_pct=1.0)
    with db.session() as s:
        assert [x.proximity_pct for x in subscriptions.list_subscriptions(s, chat)] == [0.5, 1.0, 2.0]


def test_pause_resume_remove_and_lookups(db: Database) -> None:
    a, b = make_chat(db, "1"), make_chat(db, "2")
    a1, a2 = make_sub(db, a), make_sub(db, a, window="7d")
    b1 = make_sub(db, b, symbol="ETH/USDT:USDT")
    with db.session() as s:
        assert subscriptions.active_keys(s) == [(BTC, "24h"), (BTC, "7d"), ("ETH/USDT:USDT", "24h")]
        assert subscriptions.set_enabled(s, a, a2, False) == 1
        assert subscriptions.set_enabled(s, b, a1, False) == 0  # not b's subscription
    with db.session() as s:
        assert subscriptions.active_keys(s) == [(BTC, "24h"), ("ETH/USDT:USDT", "24h")]
        assert [x.id for x in subscriptions.subscriptions_for(s, BTC, "24h")] == [a1]
        assert subscriptions.set_enabled(s, a, None, True) == 1
        assert not subscriptions.remove_subscription(s, b, a1)
        assert subscriptions.remove_subscription(s, b, b1)
    with db.session() as s:
        assert subscriptions.active_keys(s) == [(BTC, "24h"), (BTC, "7d")]
        assert subscriptions.get_subscription(s, b1) is None


def test_deactivated_chat_drops_out_of_the_job_lookups(db: Database) -> None:
    a, b = make_chat(db, "1"), make_chat(db, "2")
    a1, b1 = make_sub(db, a), make_sub(db, b)
    with db.session() as s:
        chats.deactivate_chat(s, a, "blocked")
    with db.session() as s:
        assert [x.id for x in subscriptions.subscriptions_for(s, BTC, "24h")] == [b1]
        chats.deactivate_chat(s, b, "kicked")
    with db.session() as s:
        assert subscriptions.subscriptions_for(s, BTC, "24h") == []
        assert subscriptions.active_keys(s) == []
        assert [x.id for x in subscriptions.list_subscriptions(s, a)] == [a1]  # still listed for the chat


def test_cluster_state_bulk_upsert_and_cascade(db: Database) -> None:
    chat = make_chat(db)
    s1, s2 = make_sub(db, chat), make_sub(db, chat)
    recs = [ClusterStateRec(sid, f"L-{i}", "long", armed=True) for sid in (s1, s2) for i in range(300)]
    with db.session() as s:
        assert cluster_state.save_states(s, recs) == 600
        assert cluster_state.save_states(s, []) == 0
    changed = ClusterStateRec(
        s1, "L-7", "long", armed=False, swept=False, last_alert_at=T0, last_price=64_500.0,
        alerted_low=63_900.0, alerted_high=64_000.0, alerted_usd=5e7, arm_epoch=3,
    )  # fmt: skip
    with db.session() as s:
        cluster_state.save_states(s, [changed, ClusterStateRec(s2, "S-new", "short")])
    with db.session() as s:
        got = cluster_state.load_states(s, [s1, s2, 12345])
        by_key = cluster_state.load_states_for(s, BTC, "24h")
    assert len(got) == 601 and got == by_key
    assert got[(s1, "L-7")] == changed
    assert got[(s2, "S-new")].side == "short" and got[(s2, "S-new")].armed
    with db.session() as s:
        assert cluster_state.delete_states(s, [(s1, "L-0"), (s2, "L-1")]) == 2
        subscriptions.remove_subscription(s, chat, s2)
    with db.session() as s:
        left = cluster_state.load_states(s, [s1, s2])
    assert len(left) == 299 and (s1, "L-0") not in left and (s1, "L-1") in left


def _map(at: int, price: float, clusters: tuple[Cluster, ...]) -> LiqMap:
    bins = np.linspace(60_000.0, 70_000.0, 5)
    long_usd = np.array([1e6, 2e6, 0.0, 0.0, 0.0])
    short_usd = np.array([0.0, 0.0, 0.0, 3e6, 1e6])
    empty_t = np.empty(0, dtype=np.int64)
    return LiqMap(
        symbol=BTC, window="24h", exchanges=("binanceusdm", "bybit"), at=at, price=price, bin_price=bins,
        long_usd=long_usd, short_usd=short_usd, leverages=np.array([10.0]), long_by_lev=long_usd[None, :],
        short_by_lev=short_usd[None, :], heat_time=empty_t, heat_long=np.empty((0, 5)), heat_short=np.empty((0, 5)),
        close_time=empty_t, close=np.empty(0), clusters=clusters, synthetic=True, oi_usd=8e9, funding_rate=1e-4,
    )  # fmt: skip


def test_snapshot_save_and_latest(db: Database) -> None:
    c1 = Cluster("L-62500", "long", 62_000.0, 63_000.0, 62_500.0, 3e6, 0.6, -3.1)
    c2 = Cluster("S-67500", "short", 67_000.0, 68_000.0, 67_500.0, 4e6, 0.8, 3.2)
    with db.session() as s:
        assert snapshots.latest_snapshot(s, BTC, "24h") is None
        first = snapshots.save_snapshot(s, _map(T0, 65_000.0, (c1,)))
        second = snapshots.save_snapshot(s, _map(T0 + 60_000, 65_100.0, (c1, c2)))
    assert second > first
    with db.session() as s:
        latest = snapshots.latest_snapshot(s, BTC, "24h")
        before = snapshots.latest_snapshot(s, BTC, "24h", at_or_before=T0 + 59_999)
        assert snapshots.latest_snapshot(s, BTC, "7d") is None
    assert latest is not None and before is not None
    assert latest.id == second and latest.at == T0 + 60_000 and latest.clusters == (c1, c2)
    assert latest.exchanges == ("binanceusdm", "bybit") and latest.synthetic and latest.oi_usd == 8e9
    assert math.isnan(latest.oi_change_pct) and latest.total_long_usd == 3e6 and latest.total_short_usd == 4e6
    assert before.id == first and before.clusters == (c1,)


def test_deliver_to_routes_a_chat_and_survives_upserts(db: Database) -> None:
    with db.session() as s:
        rec = chats.upsert_chat(s, "discord", "guild:42", "group", "Traders", at_ms=T0)
        assert rec.deliver_to is None
        assert chats.set_deliver_to(s, rec.id, "1234567890")
    with db.session() as s:
        again = chats.upsert_chat(s, "discord", "guild:42", "group", at_ms=T0 + 1)  # the server talks again
        assert again.id == rec.id and again.deliver_to == "1234567890" and again.title == "Traders"
        assert chats.set_deliver_to(s, rec.id, None)
        assert chats.find_chat(s, "discord", "guild:42") == chats.get_chat(s, rec.id)
        assert chats.get_chat(s, rec.id).deliver_to is None  # type: ignore[union-attr]
