"""Alert benchmark figures for ``liqmap bench``.

- ``evaluate_100k_subs_ms``: one vectorised approach evaluation of 100,000 subscriptions x 50 clusters (median ms).
- ``tick_ms``: one full job tick for 3 symbols x 3 exchanges on the sim source with a SQLite file: lease, 3 map
  computations, snapshots, evaluation of 300 subscriptions, outbox and state writes (median ms; no network).
- ``tick_db_roundtrips``: statements sent to the database during that tick (``RoundTripCounter``).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.alerts.job import AlertJob
from bot.alerts.rules import ClusterArrays, SubscriptionArrays, evaluate_approach
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage import chats, migrate, subscriptions
from bot.storage.db import Database

END_MS = 1_780_000_000_000
SYMBOLS = ("BTC/USDT:USDT", "BTC/USD:BTC", "BTC/USDC:USDC")
EXCHANGES = ("binanceusdm", "bybit", "okx")
SUBS_PER_SYMBOL = 100


def bench_inputs(n: int = 100_000, k: int = 50, seed: int = 7) -> tuple[SubscriptionArrays, ClusterArrays, float]:
    """Seeded random subscriptions (N,) and clusters (K,) around a 65k price."""
    rng = np.random.default_rng(seed)
    price = 65_000.0
    is_long = rng.random(k) < 0.5
    dist = rng.uniform(0.0, 0.1, k) * price
    width = rng.uniform(50, 800, k)
    near = np.where(is_long, price - dist, price + dist)
    low = np.where(is_long, near - width, near)
    high = np.where(is_long, near, near + width)
    usd = rng.lognormal(np.log(50e6), 1.0, k)
    clusters = ClusterArrays(is_long, low, high, usd, usd / usd.sum())
    subs = SubscriptionArrays(
        proximity_pct=rng.uniform(0.1, 5.0, n),
        min_usd=rng.choice([0.0, 10e6, 50e6, 100e6], n),
        min_share=np.zeros(n),
        side_mask=rng.integers(1, 4, n).astype(np.int64),
        cooldown_ms=np.full(n, 1_800_000, dtype=np.int64),
        last_alert_ms=rng.integers(END_MS - 7_200_000, END_MS, n).astype(np.int64),
    )
    return subs, clusters, price


def bench_evaluate(repeats: int = 5) -> float:
    """Median ms of ``evaluate_approach`` on 100k subscriptions x 50 clusters."""
    subs, clusters, price = bench_inputs()
    armed = np.random.default_rng(1).random((subs.n, clusters.k)) < 0.9
    evaluate_approach(subs, clusters, armed, price, END_MS)
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        evaluate_approach(subs, clusters, armed, price, END_MS)
        times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


async def _bench_tick(url: str, repeats: int) -> tuple[float, float]:
    db = Database(url)
    try:
        with db.session() as s:
            for i in range(SUBS_PER_SYMBOL):
                chat = chats.upsert_chat(s, "telegram", f"bench{i}", "private", at_ms=END_MS)
                for symbol in SYMBOLS:
                    subscriptions.add_subscription(
                        s,
                        chat.id,
                        symbol=symbol,
                        window="24h",
                        proximity_pct=0.1 + 0.05 * (i % 40),
                        cooldown_s=1800,
                        at_ms=END_MS,
                    )
        now = [END_MS]
        settings = Settings(tick_seconds=60, source="sim", _env_file=None)
        job = AlertJob(db, MapEngine(SimSource(EXCHANGES, seed=7)), settings, lambda: now[0], holder="bench")
        await job.tick()  # warm-up: sim day caches, first alerts
        times, trips = [], []
        for _ in range(max(repeats, 1)):
            now[0] += 60_000
            db.roundtrips.reset()
            t0 = time.perf_counter()
            await job.tick()
            times.append((time.perf_counter() - t0) * 1e3)
            trips.append(db.roundtrips.reset())
        return float(statistics.median(times)), float(statistics.median(trips))
    finally:
        db.dispose()


def bench_tick(repeats: int = 5) -> tuple[float, float]:
    """(median tick ms, median DB round trips per tick) on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{(Path(tmp) / 'bench.db').as_posix()}"
        migrate.upgrade(url)
        return asyncio.run(_bench_tick(url, repeats))


def bench_alerts(repeats: int = 5) -> dict[str, float]:
    """The alert figures: evaluate_100k_subs_ms, tick_ms, tick_db_roundtrips."""
    tick_ms, trips = bench_tick(repeats)
    return {"evaluate_100k_subs_ms": bench_evaluate(repeats), "tick_ms": tick_ms, "tick_db_roundtrips": trips}
