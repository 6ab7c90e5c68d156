"""Two dispatchers (as two replicas run them) hit the same migrated Telegram group at once, on SQLite and on
PostgreSQL: each gets 400 ``migrate_to_chat_id`` from the Bot API stand-in and moves the chat; the moves do not
collide (the chat rows are locked), one chat ends up at the supergroup id with all subscriptions, and each alert
arrives there exactly once."""

from __future__ import annotations

import asyncio

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.job import make_worker_id
from bot.chat.telegram import TelegramOptions
from bot.storage import chats, outbox, subscriptions
from bot.storage.db import Database
from tests.alerts.helpers import NOW, make_job
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.conftest import server  # noqa: F401
from tests.telegram.harness import Harness

OLD = -5151
NEW = -1005151515151


async def test_two_workers_move_the_same_migrated_group_once_and_deliver_each_alert_once(
    db: Database, server: BotApiStandin  # noqa: F811
) -> None:
    bot = Harness(db, server, TelegramOptions())
    await bot.start()
    try:
        with db.session() as s:
            group = chats.upsert_chat(s, "telegram", str(OLD), "group", "traders", at_ms=NOW)
            for pct in (1.0, 2.0):
                subscriptions.add_subscription(s, group.id, symbol="BTC/USDT:USDT", window="24h", proximity_pct=pct,
                                               cooldown_s=0, at_ms=NOW)
        assert (await make_job(db, bot.clock).tick()).alerts_queued == 2
        server.migrate(OLD, NEW)
        workers = [Dispatcher(db, {"telegram": bot.runner.notifier}, make_worker_id("dispatch"), clock=bot.clock,
                              batch=1, image_for=bot.service.alert_png) for _ in range(2)]
        reports = await asyncio.gather(*(w.run_once() for w in workers))
        assert [(r.claimed, r.sent) for r in reports] == [(1, 1), (1, 1)]
    finally:
        await bot.stop()
    with db.session() as s:
        rows = outbox.list_alerts(s)
        moved = chats.find_chat(s, "telegram", str(NEW))
        assert chats.find_chat(s, "telegram", str(OLD)) is None
        assert moved is not None and moved.id == group.id and moved.active
        assert len(subscriptions.list_subscriptions(s, moved.id)) == 2
    assert sorted(c.params["caption"] for c in server.sent(NEW)) == sorted(a.text for a in rows)
    assert all(a.state == "sent" and a.chat_id == group.id for a in rows)
    assert [c.status for c in server.calls if c.params.get("chat_id") == OLD] == [400, 400]
