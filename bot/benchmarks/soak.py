"""Soak benchmark (``liqmap bench --soak``): many alert-job ticks with 10,000 subscriptions on a SQLite file and the
sim market (the clock advances one tick interval per tick), while a steady ``/liqmap`` load runs against the real
PTB bot and ``ChatService`` over the local Telegram Bot API stand-in (``bot.testing.telegram_api``).

Reported: ``soak_rss_growth_mb`` (resident memory after the run minus after a warm-up, MB; target < 50),
``soak_errors`` (failed ticks, keys that could not be evaluated, commands not answered with a chart; target 0),
``soak_p50_ms`` / ``soak_p95_ms`` (``/liqmap`` reply latency: update queued at the server → ``sendPhoto`` received),
``soak_tick_p50_ms`` / ``soak_tick_p95_ms`` (one job tick), ``soak_ticks``, ``soak_subs``, ``soak_commands`` and
``soak_alerts_queued``. Retention runs every tick with a compressed policy (history and ticks kept 10 ticks), and
``soak_history_rows_mid`` / ``soak_history_rows_end`` count the snapshot and tick rows half-way and at the end: equal
when the database stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.alerts.job import AlertJob, TickReport
from bot.benchmarks.telegram import _pct, _standin_class
from bot.chat.service import ChatService
from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage import chats, migrate, subscriptions
from bot.storage.db import Database
from bot.storage.models import ClusterSnapshot, JobTick
from bot.storage.retention import RetentionPolicy

log = logging.getLogger(__name__)
START_MS = 1_780_000_000_000
TICK_MS = 60_000
EXCHANGES = ("binanceusdm", "bybit", "okx")
KEYS = (("BTC/USDT:USDT", "24h"), ("BTC/USD:BTC", "24h"), ("BTC/USDT:USDT", "12h"))
TOKEN = "4343:soak-token"
PER_CHAT = 20
WARMUP_TICKS = 3


def rss_mb() -> float:
    """Resident set size of this process in MB (``/proc/self/statm``; peak RSS where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_subscriptions(db: Database, n: int) -> None:
    """``n`` subscriptions, ``PER_CHAT`` per chat, spread over ``KEYS``, proximities 0.1–5% and sides."""
    with db.session() as s:
        chat_id = 0
        for i in range(n):
            if i % PER_CHAT == 0:
                chat_id = chats.upsert_chat(s, "telegram", str(10_000_000 + i // PER_CHAT), "private",
                                            at_ms=START_MS).id
            symbol, window = KEYS[i % len(KEYS)]
            subscriptions.add_subscription(
                s, chat_id, symbol=symbol, window=window, proximity_pct=0.1 + 0.1 * (i % 50),
                sides=("both", "long", "short")[i % 3], cooldown_s=1800, limit_per_chat=PER_CHAT, at_ms=START_MS,
            )


async def _commands(server: Any, users: range) -> tuple[list[float], int]:
    """One ``/liqmap`` from each user at once; (latencies ms of the charts, commands not answered by a chart)."""
    pushed = {u: server.type_text(u, "/liqmap") for u in users}
    with contextlib.suppress(AssertionError):  # a command never answered counts as an error below
        await server.wait_for(lambda: all(server.sent(u) for u in users), timeout_s=60)
    latencies, errors = [], 0
    for u, update_id in pushed.items():
        sent = server.sent(u)
        if sent and sent[0].method == "sendPhoto":
            latencies.append(1000 * (sent[0].at - server.pushed_at[update_id]))
        else:
            errors += 1
    return latencies, errors


def history_rows(db: Database) -> int:
    """Cluster snapshot and job tick rows now stored (what retention keeps bounded)."""
    from sqlalchemy import func, select

    with db.session() as s:
        return sum(int(s.execute(select(func.count()).select_from(t.__table__)).scalar_one())
                   for t in (ClusterSnapshot, JobTick))


async def _timed_tick(job: AlertJob) -> tuple[TickReport, float]:
    """One tick and its wall time in ms (it shares the event loop with the command load)."""
    t0 = time.perf_counter()
    report = await job.tick()
    return report, (time.perf_counter() - t0) * 1000


@dataclass
class _SoakTally:
    """What the soak ticks add up: tick and reply wall times (ms), errors, alerts queued, commands sent, the RSS
    after the warm-up (MB) and the history rows half-way."""

    tick_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    errors: int = 0
    queued: int = 0
    n_commands: int = 0
    base_rss: float = 0.0
    rows_mid: int = 0


def _soak_stack(db: Database, server: Any, now: list[int]) -> tuple[AlertJob, TelegramRunner]:
    """The alert job (compressed retention, clock ``now[0]`` ms UTC) and the Telegram bot on the stand-in
    ``server``, both on the seeded sim market."""
    settings = Settings(source="sim", tick_seconds=TICK_MS / 1000, telegram_token=TOKEN,
                        telegram_api_url=server.base_url, _env_file=None)
    policy = RetentionPolicy(history_ms=10 * TICK_MS, ticks_ms=10 * TICK_MS, every_ms=TICK_MS)
    def clock() -> int:
        return now[0]

    engine = MapEngine(SimSource(EXCHANGES, seed=7), clock=clock, tick_ms=TICK_MS)  # one engine, as build_app wires it
    job = AlertJob(db, engine, settings, clock, holder="soak", policy=policy)
    service = ChatService(db, engine, settings, render_cache=RenderCache(), job=job, clock=clock)
    return job, TelegramRunner(settings, service, TelegramOptions(poll_timeout_s=1))


async def _soak_tick(
    i: int, job: AlertJob, server: Any, db: Database, tally: _SoakTally, ticks: int, commands_per_tick: int
) -> bool:
    """Tick ``i``: one job tick alongside ``commands_per_tick`` /liqmap commands from new users, added to ``tally``
    (plus the warm-up RSS and the half-way history rows when due). False when the tick raised (counted as one
    error; the clock then does not advance)."""
    users = range(1 + i * commands_per_tick, 1 + (i + 1) * commands_per_tick)  # new users: no user limit
    try:
        (report, ms), (latencies, failed) = await asyncio.gather(_timed_tick(job), _commands(server, users))
    except Exception:
        log.exception("soak tick %d failed", i)
        tally.errors += 1
        return False
    tally.tick_ms.append(ms)
    tally.errors += failed + sum(1 for k in report.keys if k.error)
    tally.queued += report.alerts_queued
    tally.reply_ms += latencies
    tally.n_commands += len(users)
    server.calls.clear()  # the stand-in keeps every request (with PNGs): not the bot's memory
    server.messages.clear()
    server.pushed_at.clear()
    if i + 1 == min(WARMUP_TICKS, ticks):
        gc.collect()
        tally.base_rss = rss_mb()
    if i + 1 == ticks // 2:
        tally.rows_mid = history_rows(db)
    return True


def _soak_figures(tally: _SoakTally, ticks: int, subs: int, growth: float, rows_end: int) -> dict[str, float]:
    """The ``soak_*`` figures (module docstring); latency percentiles are NaN when nothing was measured."""
    reply_ms, tick_ms = tally.reply_ms, tally.tick_ms
    return {
        "soak_rss_growth_mb": round(growth, 1),
        "soak_errors": float(tally.errors),
        "soak_p50_ms": round(statistics.median(reply_ms), 1) if reply_ms else float("nan"),
        "soak_p95_ms": round(_pct(reply_ms, 0.95), 1) if reply_ms else float("nan"),
        "soak_tick_p50_ms": round(statistics.median(tick_ms), 1) if tick_ms else float("nan"),
        "soak_tick_p95_ms": round(_pct(tick_ms, 0.95), 1) if tick_ms else float("nan"),
        "soak_ticks": float(ticks),
        "soak_subs": float(subs),
        "soak_commands": float(tally.n_commands),
        "soak_alerts_queued": float(tally.queued),
        "soak_history_rows_mid": float(tally.rows_mid),
        "soak_history_rows_end": float(rows_end),
    }


async def _soak(url: str, ticks: int, subs: int, commands_per_tick: int) -> dict[str, float]:
    """Seed ``subs`` subscriptions in the database at ``url``, run ``ticks`` ticks under the command load and
    return the ``soak_*`` figures; the bot, the stand-in server and the database are always shut down."""
    db = Database(url)
    server = _standin_class()(TOKEN)
    await server.start()
    now = [START_MS]
    job, runner = _soak_stack(db, server, now)
    tally = _SoakTally()
    try:
        await asyncio.to_thread(seed_subscriptions, db, subs)
        await runner.start()
        for i in range(ticks):
            if await _soak_tick(i, job, server, db, tally, ticks, commands_per_tick):
                now[0] += TICK_MS
        gc.collect()
        growth = rss_mb() - tally.base_rss
        rows_end = history_rows(db)
    finally:
        await runner.stop()
        await server.close()
        db.dispose()
    return _soak_figures(tally, ticks, subs, growth, rows_end)


def bench_soak(ticks: int = 30, subs: int = 10_000, commands_per_tick: int = 5) -> dict[str, float]:
    """Run the soak on a fresh SQLite file (see the module docstring); returns the ``soak_*`` figures."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{(Path(tmp) / 'soak.db').as_posix()}"
        migrate.upgrade(url)
        return asyncio.run(_soak(url, max(ticks, 1), max(subs, 1), max(commands_per_tick, 1)))
