"""Telegram polling on several replicas sharing one database: the real PTB runner with production defaults (lease ttl
20 s renewed every 5 s, 10 s long polls) against the Bot API stand-in, which answers overlapping getUpdates with 409
as Telegram does. Only the lease holder polls; a standby replica still sends alerts; a holder that loses the lease,
or cannot confirm it because the database is locked, stops polling well before the lease could pass to another
replica; a graceful stop hands polling over within one renew interval."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator

import pytest

from bot.alerts.dispatcher import Dispatcher
from bot.chat.telegram import TelegramOptions
from bot.chat.telegram.runner import LEASE_NAME
from bot.clock import wall_ms as now_ms
from bot.storage import leases, outbox
from bot.storage.db import Database
from tests.alerts.helpers import add_sub, make_job
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import Harness

PRODUCTION = TelegramOptions()


@pytest.fixture
async def pair(tg_db: Database, server: BotApiStandin) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two replicas on one database, started one after the other: ``first`` holds the lease."""
    first, second = Harness(tg_db, server, PRODUCTION), Harness(tg_db, server, PRODUCTION)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await second.stop()
        await first.stop()


def polls(server: BotApiStandin) -> int:
    return len(server.calls_of("getUpdates"))


async def wait_until(predicate: object, timeout_s: float) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - start < timeout_s, f"not within {timeout_s} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_only_the_holder_polls_and_the_standby_still_sends_alerts(pair: tuple[Harness, Harness]) -> None:
    first, second = pair
    server = first.server
    assert first.runner.polling and not second.runner.polling
    assert leases.lease_holder(first.db, LEASE_NAME, now_ms()) == first.runner.lease.holder
    await first.say(10, "/help", method="sendMessage")
    add_sub(second.db, "20")
    assert (await make_job(second.db, second.clock).tick()).alerts_queued == 1
    standby = Dispatcher(second.db, {"telegram": second.runner.notifier}, "w2", clock=second.clock,
                         image_for=second.service.alert_png)
    assert (await standby.run_once()).sent == 1  # sent by the replica that does not poll
    assert len(server.sent(20, "sendPhoto")) == 1
    with second.db.session() as s:
        [row] = outbox.list_alerts(s)
    assert row.state == "sent" and row.message_id == str(server.messages_of(20)[-1]["message_id"])
    await asyncio.sleep(6.0)  # the standby has retried the lease at least once
    assert not second.runner.polling and server.poll_conflicts == 0 and server.max_polls_in_flight == 1
    assert len(server.sent(10)) == 1


async def test_graceful_stop_hands_polling_over_within_one_renew_interval(pair: tuple[Harness, Harness]) -> None:
    first, second = pair
    server = first.server
    await first.say(11, "/start", method="sendMessage")
    await first.stop()  # stops polling, then releases the lease
    took = await wait_until(lambda: second.runner.polling, PRODUCTION.lease.renew_s + 2)
    assert took <= PRODUCTION.lease.renew_s + 1
    await second.say(12, "/start", method="sendMessage")
    assert len(server.sent(11)) == len(server.sent(12)) == 1
    assert server.poll_conflicts == 0 and [c for c in server.calls if c.status == 409] == []


async def test_holder_that_loses_the_lease_stops_polling_at_its_next_renewal(bot: Harness) -> None:
    server = bot.server
    assert bot.runner.polling
    leases.try_acquire(bot.db, LEASE_NAME, "another-replica", 20_000, now_ms() + 21_000)  # e.g. after a freeze
    took = await wait_until(lambda: not bot.runner.polling, PRODUCTION.lease.renew_s + 2)
    assert took <= PRODUCTION.lease.renew_s + 1
    stopped = polls(server)
    await asyncio.sleep(1.0)
    assert polls(server) == stopped  # no poll in flight or after
    server.type_text(13, "/help")
    await asyncio.sleep(1.0)
    assert server.sent(13) == []  # the other holder would answer it


@pytest.mark.slow
async def test_locked_database_stops_polling_before_the_lease_expires_then_polling_resumes(bot: Harness) -> None:
    server, runner = bot.server, bot.runner
    path = bot.db.engine.url.database
    assert path and runner.polling
    lock = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # renewals now wait (busy timeout), then fail
        [(until,)] = lock.execute("SELECT until FROM leases WHERE name = ?", (LEASE_NAME,)).fetchall()
        await wait_until(lambda: not runner.polling, PRODUCTION.lease.ttl_s)
        confirmed_at = until - int(PRODUCTION.lease.ttl_s * 1000)  # wall time the last confirmed renewal started
        stopped_after = now_ms() - confirmed_at
        assert stopped_after < PRODUCTION.lease.ttl_s * 1000 - 5_000, stopped_after  # well before it may pass on
        stopped = polls(server)
        await asyncio.sleep(max(until + 1_000 - now_ms(), 0) / 1000)  # past the expiry: still not polling
        assert not runner.polling and polls(server) == stopped
        lock.execute("ROLLBACK")
    finally:
        lock.close()
    await wait_until(lambda: runner.polling, PRODUCTION.lease.renew_s * 3)
    await bot.say(14, "/help", method="sendMessage")
    assert server.poll_conflicts == 0
