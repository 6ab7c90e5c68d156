"""A Telegram group upgraded to a supergroup: the Bot API answers sends to the old id with 400 and
``parameters.migrate_to_chat_id`` (PTB's ``ChatMigrated``). The chat moves to the new id with its subscriptions and
pending alerts, and the alert is resent there once. Shipped wiring: ``build_app`` (production defaults, the test's
clock) plus the Telegram bot as ``run_app`` starts it, against the Bot API stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.chat.telegram import start_telegram
from bot.config import Settings
from bot.storage import chats, migrate, outbox, subscriptions
from bot.storage.records import AlertRec, ChatRec
from tests.alerts.helpers import NOW, Clock
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import TOKEN

OLD = -4242  # a basic group
NEW = -1001234567890  # the supergroup it became


@pytest.fixture
async def shipped(tmp_path: Path, server: BotApiStandin) -> AsyncIterator[tuple[App, Clock]]:
    settings = Settings(source="sim", telegram_token=TOKEN, telegram_api_url=server.base_url,
                        data_dir=tmp_path / "data", health_port=0, _env_file=None)
    (tmp_path / "data").mkdir()
    migrate.upgrade(settings.resolved_database_url)
    clock = Clock()
    app = build_app(settings, clock=clock)
    telegram = await start_telegram(settings, app.service)  # as run_app starts it
    app.dispatcher.notifiers["telegram"] = telegram.notifier
    try:
        yield app, clock
    finally:
        await telegram.stop()
        await app.close()


def group_with_rules(app: App, external_id: int, proximities: tuple[float, ...]) -> ChatRec:
    with app.db.session() as s:
        chat = chats.upsert_chat(s, "telegram", str(external_id), "group", "traders", at_ms=NOW)
        for pct in proximities:
            subscriptions.add_subscription(s, chat.id, symbol="BTC/USDT:USDT", window="24h", proximity_pct=pct,
                                           cooldown_s=0, at_ms=NOW)
    return chat


def rows(app: App) -> list[AlertRec]:
    with app.db.session() as s:
        return sorted(outbox.list_alerts(s), key=lambda a: a.id)


def captions(server: BotApiStandin, chat_id: int) -> list[str]:
    return [c.params.get("caption", c.params.get("text", "")) for c in server.sent(chat_id)]


async def test_alert_to_a_migrated_group_moves_the_chat_and_arrives_once_in_the_supergroup(
    shipped: tuple[App, Clock], server: BotApiStandin
) -> None:
    app, clock = shipped
    group = group_with_rules(app, OLD, (1.0, 2.0))
    assert (await app.job.tick()).alerts_queued == 2
    server.migrate(OLD, NEW)
    report = await app.dispatcher.run_once()
    assert (report.sent, report.failed, report.blocked) == (2, 0, 0)

    queued = rows(app)
    assert sorted(captions(server, NEW)) == sorted(a.text for a in queued)  # each alert once, in the supergroup
    refused = [c for c in server.calls if c.params.get("chat_id") == OLD]
    assert [c.status for c in refused] == [400]  # the next alert of the batch went straight to the new id
    new_ids = {str(m["message_id"]) for m in server.messages_of(NEW)}
    assert all(a.state == "sent" and a.message_id in new_ids for a in queued)
    with app.db.session() as s:
        moved = chats.find_chat(s, "telegram", str(NEW))
        assert chats.find_chat(s, "telegram", str(OLD)) is None
        assert moved is not None and moved.id == group.id and moved.active and moved.kind == "group"
        assert len(subscriptions.list_subscriptions(s, moved.id)) == 2
    assert all(a.chat_id == group.id for a in queued)

    clock.advance(60_000)  # the next tick's alerts go to the supergroup directly
    queued_next = (await app.job.tick()).alerts_queued
    assert queued_next >= 1 and (await app.dispatcher.run_once()).sent == queued_next
    assert len(server.sent(NEW)) == 2 + queued_next
    assert [c.status for c in server.calls if c.params.get("chat_id") == OLD] == [400]


async def test_migrated_group_merges_into_an_already_registered_supergroup(
    shipped: tuple[App, Clock], server: BotApiStandin
) -> None:
    app, _ = shipped
    old = group_with_rules(app, OLD, (1.0,))
    assert (await app.job.tick()).alerts_queued == 1
    new = group_with_rules(app, NEW, (2.0,))  # someone set an alert in the supergroup before the alert went out
    server.migrate(OLD, NEW)
    assert (await app.dispatcher.run_once()).sent == 1
    [alert] = rows(app)
    assert captions(server, NEW) == [alert.text] and alert.state == "sent" and alert.chat_id == new.id
    with app.db.session() as s:
        assert chats.find_chat(s, "telegram", str(OLD)) is None and chats.get_chat(s, old.id) is None
        merged = subscriptions.list_subscriptions(s, new.id)
    assert sorted(sub.proximity_pct for sub in merged) == [1.0, 2.0]
