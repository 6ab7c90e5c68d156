"""The periodic job on real SQLite and PostgreSQL: trigger, hysteresis, cooldown, sweep, stale guard, startup."""

from __future__ import annotations

from bot.alerts.job import AlertJob
from bot.engine import MapEngine
from bot.market.source import SimSource, SourceResult
from bot.storage import cluster_state, leases, outbox, snapshots
from bot.storage.db import Database
from bot.storage.records import ClusterStateRec
from tests.alerts.helpers import EXCHANGES, NEAREST, NOW, Clock, add_sub, make_job, settings


def alerts(db: Database) -> list:
    with db.session() as s:
        return list(reversed(outbox.list_alerts(s)))


async def test_trigger_queues_one_approach_alert_with_score_and_snapshot(db: Database) -> None:
    sub = add_sub(db)
    report = await make_job(db, Clock()).tick()
    assert report.ran and report.alerts_queued == 1
    [a] = alerts(db)
    assert (a.kind, a.cluster_id, a.side, a.state, a.subscription_id) == ("approach", NEAREST, "long", "queued", sub.id)
    assert a.dedupe_key == f"{sub.id}:{NEAREST}:approach:0"
    assert -1.0 <= a.distance_pct < 0 and 0 <= a.score <= 100 and a.reasons
    assert "SYNTHETIC" in a.text and f"Squeeze risk {a.score}/100" in a.text
    with db.session() as s:
        snap = snapshots.latest_snapshot(s, "BTC/USDT:USDT", "24h")
        states = cluster_state.load_states(s, [sub.id])
    assert snap is not None and snap.at == NOW and NEAREST in {c.id for c in snap.clusters}
    st = states[(sub.id, NEAREST)]
    assert not st.armed and st.last_alert_at == NOW and st.alerted_low == a.low


async def test_filters_keep_small_or_wrong_side_clusters_quiet(db: Database) -> None:
    add_sub(db, "1", sides="short")  # the short clusters are > 1% away
    add_sub(db, "2", min_usd=2.5e9)  # nothing that big
    add_sub(db, "3", proximity_pct=0.05)  # too far
    report = await make_job(db, Clock()).tick()
    assert report.alerts_queued == 0 and alerts(db) == []


async def test_hysteresis_no_repeat_until_rearmed(db: Database) -> None:
    sub = add_sub(db)
    clock = Clock()
    job = make_job(db, clock)
    await job.tick()
    for _ in range(3):
        clock.advance(60_000)
        assert (await job.tick()).alerts_queued == 0  # still near, disarmed (no cooldown set)
    # a restarted job (new process) does not re-alert either: the state is in the database
    assert (await make_job(db, clock, holder="job-test").tick()).alerts_queued == 0
    # a pair already beyond 2 x proximity re-arms (new epoch) without alerting
    far = add_sub(db, "9", proximity_pct=0.05)
    with db.session() as s:
        cluster_state.save_states(s, [ClusterStateRec(far.id, NEAREST, "long", armed=False, arm_epoch=4)])
    clock.advance(60_000)
    await job.tick()
    with db.session() as s:
        st = cluster_state.load_states(s, [far.id, sub.id])
    assert st[(far.id, NEAREST)].armed and st[(far.id, NEAREST)].arm_epoch == 5
    assert not st[(sub.id, NEAREST)].armed and st[(sub.id, NEAREST)].arm_epoch == 0
    assert len(alerts(db)) == 1


async def test_cooldown_then_next_cluster(db: Database) -> None:
    add_sub(db, proximity_pct=5.0, cooldown_s=1800)
    clock = Clock()
    job = make_job(db, clock)
    assert (await job.tick()).alerts_queued == 1  # the nearest of several clusters within 5%
    clock.advance(60_000)
    assert (await job.tick()).alerts_queued == 0  # others are armed and near, but the cooldown holds
    clock.advance(30 * 60_000)
    assert (await job.tick()).alerts_queued == 1
    first, second = alerts(db)
    assert first.cluster_id == NEAREST and second.cluster_id != NEAREST


async def test_sweep_follow_up_with_estimated_usd(db: Database) -> None:
    sub = add_sub(db)
    clock = Clock(NOW - 60_000)
    job = make_job(db, clock)
    await job.tick()
    price = snapshot_price(db)
    # the subscription was alerted about a long zone just above where price now trades: price fell through it
    with db.session() as s:
        cluster_state.save_states(
            s,
            [
                ClusterStateRec(
                    sub.id,
                    "L-gone",
                    "long",
                    armed=False,
                    last_alert_at=0,
                    alerted_low=price * 1.004,
                    alerted_high=price * 1.006,
                    alerted_usd=123e6,
                )
            ],
        )
    clock.advance(60_000)
    assert (await job.tick()).alerts_queued == 1
    sweep = alerts(db)[-1]
    assert (sweep.kind, sweep.cluster_id, sweep.usd) == ("sweep", "L-gone", 123e6)
    assert sweep.dedupe_key == f"{sub.id}:L-gone:sweep:0"
    assert "fell through" in sweep.text and "Estimated $123M of longs liquidated" in sweep.text
    with db.session() as s:
        st = cluster_state.load_states(s, [sub.id])[(sub.id, "L-gone")]
    assert st.swept and st.armed and st.arm_epoch == 1
    clock.advance(60_000)
    assert (await job.tick()).alerts_queued == 0  # a sweep is reported once


async def test_no_alerts_for_old_events_on_startup(db: Database) -> None:
    sub = add_sub(db, proximity_pct=0.05)  # nothing near: only the sweep could alert
    clock = Clock(NOW - 3_600_000)
    await make_job(db, clock).tick()  # last run an hour ago, then the bot was down
    price = snapshot_price(db)
    with db.session() as s:
        cluster_state.save_states(
            s,
            [
                ClusterStateRec(
                    sub.id,
                    "L-old",
                    "long",
                    armed=False,
                    last_alert_at=NOW - 7_200_000,
                    alerted_low=price * 2,
                    alerted_high=price * 2.01,
                    alerted_usd=50e6,
                )
            ],
        )
    clock.now = NOW
    restarted = make_job(db, clock, holder="job-restarted")  # the old lease expired long ago
    assert (await restarted.tick()).alerts_queued == 0
    with db.session() as s:
        st = cluster_state.load_states(s, [sub.id])[(sub.id, "L-old")]
    assert st.swept and st.armed  # recorded, not alerted


class LaggingSource(SimSource):
    """A sim exchange feed that stopped updating ``lag_ms`` ago (its data is as of now - lag)."""

    def __init__(self, lag_ms: int) -> None:
        super().__init__(EXCHANGES, seed=7)
        self.lag_ms = lag_ms

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        end = (until_ms if until_ms is not None else NOW) - self.lag_ms
        return await super().load(symbol, timeframe, since_ms - self.lag_ms, end)


async def test_stale_exchanges_are_left_out_and_named(db: Database) -> None:
    add_sub(db)
    clock = Clock()
    job = AlertJob(db, MapEngine(LaggingSource(15 * 60_000)), settings(), clock, holder="job-test")
    report = await job.tick()
    assert report.ran and report.alerts_queued == 0 and alerts(db) == [] and not report.ok  # a failed tick
    status = job.status[("BTC/USDT:USDT", "24h")]
    assert set(status.missing_exchanges) == set(EXCHANGES) and not status.fresh and status.exchanges == ()
    # 2 minutes of lag is within 3 intervals (+ one 5m candle): alerts flow
    ok = AlertJob(db, MapEngine(LaggingSource(2 * 60_000)), settings(), clock, holder="job-test")
    assert (await ok.tick()).alerts_queued == 1
    assert ok.status[("BTC/USDT:USDT", "24h")].fresh


async def test_lease_lets_one_replica_tick(db: Database) -> None:
    add_sub(db)
    clock = Clock()
    a, b = make_job(db, clock, holder="a"), make_job(db, clock, holder="b")
    assert (await a.tick()).ran
    assert not (await b.tick()).ran
    clock.advance(60_000)
    assert (await a.tick()).ran  # the holder renews
    assert leases.lease_holder(db, "recompute", clock()) == "a"
    assert len(alerts(db)) == 1


def snapshot_price(db: Database) -> float:
    with db.session() as s:
        snap = snapshots.latest_snapshot(s, "BTC/USDT:USDT", "24h")
    assert snap is not None
    return snap.price
