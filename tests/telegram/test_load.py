"""200 chats send /liqmap at once, under Telegram's real flood limits: every chat gets its photo, one render."""

from __future__ import annotations

from bot.chat.telegram import TelegramOptions
from bot.storage.db import Database
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import Harness

CHATS = range(1, 201)


async def test_200_chats_at_once_are_all_answered_and_share_one_render(tg_db: Database, server: BotApiStandin) -> None:
    bot = Harness(tg_db, server, TelegramOptions(poll_timeout_s=1))  # default flood limits: 30 msg/s overall
    await bot.start()
    try:
        for chat_id in CHATS:
            server.type_text(chat_id, "/liqmap")
        await server.wait_for(lambda: all(server.sent(c) for c in CHATS), timeout_s=40)
    finally:
        await bot.stop()
    photos = {c: server.sent(c) for c in CHATS}
    assert all(len(calls) == 1 and calls[0].method == "sendPhoto" for calls in photos.values())
    assert len({calls[0].files["photo"] for calls in photos.values()}) == 1  # everyone got the same image
    stats = bot.service.renders.stats()
    assert (stats["renders"], stats["misses"]) == (1, 1) and stats["hits"] == 199
    assert not [c for c in server.calls if c.status != 200]
