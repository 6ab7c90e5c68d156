"""Abuse through the Telegram adapter (real PTB against the Bot API stand-in): group alerts change only for admins,
whatever the spelling (``@botname``, ``/alerts`` alias, upper case, posting as a channel, crafted button data, a
failing admin lookup); the per-user image limit holds across chats and command spellings; guessed ids of another
chat's alerts change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.chat.telegram import TelegramOptions
from bot.chat.telegram.adapter import ADMIN_ONLY
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.conftest import bot, server, tg_db  # noqa: F401
from tests.telegram.harness import FAST, Harness

GROUP = -100777
ADMIN, MEMBER, STRANGER = 11, 22, 33


def subs(db: Database, external_id: int) -> list[SubscriptionRec]:
    with db.session() as s:
        chat = chats.find_chat(s, "telegram", str(external_id))
        return subscriptions.list_subscriptions(s, chat.id) if chat is not None else []


async def test_group_alerts_change_only_for_admins_whatever_the_spelling(bot: Harness) -> None:  # noqa: F811
    bot.server.admins[GROUP] = {ADMIN}
    added = await bot.say(GROUP, "/alert add BTC 2%", user_id=ADMIN)
    assert added.params["text"].startswith("Alert #")
    [sub] = subs(bot.db, GROUP)
    attempts = [
        "/alert add BTC 3%", "/alert@liqmap_test_bot add BTC 3%", "/alerts add BTC 3%", "/alert ADD BTC 3%",
        f"/alert remove {sub.id}", f"/alert@liqmap_test_bot Remove #{sub.id}", "/alert pause",
        f"/alerts pause {sub.id}", "/alert resume", "/alert REMOVE all",
    ]
    for text in attempts:
        reply = await bot.say(GROUP, text, user_id=MEMBER)
        assert reply.params["text"] == ADMIN_ONLY, (text, reply.params["text"])
    other_channel = {"id": -100999, "type": "channel", "title": "someone's channel"}  # a member posting as a channel
    reply = await bot.say(GROUP, "/alert pause", user_id=MEMBER, sender_chat=other_channel)
    assert reply.params["text"] == ADMIN_ONLY
    assert subs(bot.db, GROUP) == [sub]  # unchanged, still enabled


async def test_admin_lookup_failure_fails_closed(bot: Harness) -> None:  # noqa: F811
    bot.server.admins[GROUP] = {ADMIN}
    bot.server.fail("getChatMember", "400", description="Bad Request: user not found", times=3)
    reply = await bot.say(GROUP, "/alert add BTC", user_id=ADMIN)
    assert reply.params["text"] == ADMIN_ONLY and subs(bot.db, GROUP) == []


async def test_crafted_button_data_cannot_change_alerts(bot: Harness) -> None:  # noqa: F811
    bot.server.admins[GROUP] = {ADMIN}
    await bot.say(GROUP, "/alert add BTC 2%", user_id=ADMIN)
    [sub] = subs(bot.db, GROUP)
    help_msg = await bot.say(GROUP, "/help", user_id=MEMBER)
    message_id = bot.server.messages_of(GROUP)[-1]["message_id"]
    assert help_msg.method == "sendMessage"
    for data in (f"alert|remove|{sub.id}", f"alert remove {sub.id}", "alert|pause|all|x", "liqmap|BTC|24h"):
        answer = await bot.press(GROUP, message_id, data, user_id=MEMBER)
        assert "expired" in answer.params.get("text", ""), (data, answer.params)
    assert subs(bot.db, GROUP) == [sub]


async def test_guessed_ids_through_telegram_change_nothing(bot: Harness) -> None:  # noqa: F811
    bot.server.admins[GROUP] = {ADMIN}
    await bot.say(GROUP, "/alert add BTC 2%", user_id=ADMIN)
    [sub] = subs(bot.db, GROUP)
    for verb in ("remove", "pause", "resume"):
        reply = await bot.say(STRANGER, f"/alert {verb} {sub.id}")
        assert reply.params["text"] == f"you have no alert #{sub.id}; see alert list", reply.params["text"]
    listed = await bot.say(STRANGER, "/alert list")
    assert f"#{sub.id}" not in listed.params["text"]
    assert subs(bot.db, GROUP) == [sub]


@pytest.fixture
async def limited(tg_db: Database, server: BotApiStandin) -> AsyncIterator[Harness]:  # noqa: F811
    harness = Harness(tg_db, server, TelegramOptions(flood=FAST, image_requests=2, image_per_s=600, poll_timeout_s=1))
    await harness.start()
    yield harness
    await harness.stop()


async def test_image_limit_is_per_user_across_chats_and_spellings(limited: Harness) -> None:
    await limited.say(MEMBER, "/liqmap", method="sendPhoto")
    await limited.say(GROUP, "/liqmap@liqmap_test_bot 12h", user_id=MEMBER, method="sendPhoto")
    for chat, text in ((GROUP, "/liqmap"), (MEMBER, "/liqmap@liqmap_test_bot BTC 7d"), (GROUP, "/liqmap 4h map")):
        before = len(limited.server.calls_of("sendPhoto"))
        limited.server.type_text(chat, text, user_id=MEMBER)
        await limited.say(chat, "/help", user_id=MEMBER)  # updates are handled in order: the one above is done
        assert len(limited.server.calls_of("sendPhoto")) == before, text
    limited_texts = [c.params.get("text", "") for c in limited.server.calls_of("sendMessage")]
    assert sum("try again in" in t for t in limited_texts) == 3
    other = await limited.say(STRANGER, "/liqmap", method="sendPhoto")  # another user is not affected
    assert other.files["photo"]
