"""Groups (admins only change alerts, @botname suffix), the per-user image limit, flood control, failures, logs."""

from __future__ import annotations

import logging

import pytest

from bot.chat.service import SORRY
from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.errors import LiqmapError
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import FAST, TOKEN, Harness, tg_settings

GROUP = -100123
ADMIN, MEMBER = 11, 22


def group_subs(bot: Harness) -> int:
    with bot.db.session() as s:
        chat = chats.find_chat(s, "telegram", str(GROUP))
        return 0 if chat is None else len(subscriptions.list_subscriptions(s, chat.id))


async def test_in_groups_only_admins_change_alerts_and_botname_suffix_works(bot: Harness) -> None:
    bot.server.admins[GROUP] = {ADMIN}
    denied = await bot.say(GROUP, "/alert add BTC 2%", user_id=MEMBER)
    assert denied.params["text"] == "Only this group's admins can change its alerts." and group_subs(bot) == 0
    assert bot.server.calls_of("getChatMember")[-1].params["user_id"] == MEMBER
    added = await bot.say(GROUP, "/alert@liqmap_test_bot add BTC 2%", user_id=ADMIN)
    assert added.params["text"].startswith("Alert #") and group_subs(bot) == 1
    listed = await bot.say(GROUP, "/alert list", user_id=MEMBER)  # reading is fine for everyone
    assert "BTCUSDT 24h within 2.00%" in listed.params["text"]
    assert (await bot.say(GROUP, "/alert pause", user_id=MEMBER)).params["text"].startswith("Only")
    anonymous = {"id": GROUP, "type": "supergroup", "title": "g"}  # an anonymous admin posts as the group
    assert (await bot.say(GROUP, "/alert pause", user_id=MEMBER, sender_chat=anonymous)).params["text"].startswith(
        "All 1 alerts paused"
    )
    photo = await bot.say(GROUP, "/liqmap@liqmap_test_bot BTC 12h", user_id=MEMBER, method="sendPhoto")
    assert "BTCUSDT 12h liquidation map" in photo.params["caption"]
    with bot.db.session() as s:
        chat = chats.find_chat(s, "telegram", str(GROUP))
        assert chat is not None and chat.kind == "group"
    before = len(bot.server.calls)
    bot.server.type_text(GROUP, "/liqmap@some_other_bot", user_id=MEMBER)  # not for us: ignored
    await bot.say(GROUP, "/help", user_id=MEMBER)
    assert [c.method for c in bot.server.calls[before:] if c.method.startswith("send")] == ["sendMessage"]


async def test_per_user_image_limit_answers_try_again(tg_db: Database, server: BotApiStandin) -> None:
    bot = Harness(tg_db, server, TelegramOptions(flood=FAST, image_requests=1, image_per_s=60, poll_timeout_s=1))
    await bot.start()
    try:
        first = await bot.say(1, "/liqmap", method="sendPhoto")
        limited = (await bot.say(1, "/liqmap 7d", method="sendMessage")).params["text"]
        assert "try again in" in limited and limited.rstrip(".").endswith(" s")
        wait = int(limited.split("try again in ")[1].split()[0])
        assert 1 <= wait <= 60
        await bot.press(1, server.messages_of(1)[-1]["message_id"], "liqmap|BTC/USDT:USDT|7d|heatmap")
        assert "try again in" in server.calls_of("answerCallbackQuery")[-1].params["text"]
        assert not server.calls_of("editMessageMedia")
        other_user = await bot.say(2, "/liqmap", method="sendPhoto")  # limits are per user
        assert other_user.files["photo"] == first.files["photo"]
    finally:
        await bot.stop()


async def test_flood_limit_retry_after_is_waited_out_then_sent(bot: Harness) -> None:
    bot.server.fail("sendPhoto", "429", retry_after=1)
    await bot.say(5, "/liqmap", method="sendPhoto")
    first, second = bot.server.calls_of("sendPhoto")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0  # waited as Telegram told (a lower bound, not a speed assertion)


async def test_unexpected_failure_gets_an_apology_and_is_logged(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    bot.server.fail("sendPhoto", "400", description="Bad Request: something odd")
    with caplog.at_level(logging.ERROR, logger="bot.chat.telegram"):
        reply = await bot.say(6, "/liqmap", method="sendMessage")
    assert reply.params["text"] == SORRY
    assert any("/liqmap in chat 6 failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_token_never_appears_in_logs(tg_db: Database, server: BotApiStandin,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # whatever an earlier in-process CLI run set it to
    bot = Harness(tg_db, server)
    await bot.start()
    try:
        server.fail("sendPhoto", "400")
        await bot.say(7, "/liqmap")
        await bot.say(7, "/alert add BTC")
    finally:
        await bot.stop()
    wrong = TelegramRunner(tg_settings(server.base_url, token="999:WRONG-secret-token"), bot.service,
                           TelegramOptions(poll_timeout_s=1))
    with pytest.raises(LiqmapError) as err:
        await wrong.start()
    assert "WRONG-secret-token" not in str(err.value) and "rejected" in str(err.value)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log its URLs...
    logged = caplog.text + "".join(str(r.exc_text or "") for r in caplog.records)
    assert TOKEN not in logged and "WRONG-secret-token" not in logged  # ...with the token masked
    assert "<telegram-token>" in logged
