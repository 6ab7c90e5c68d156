"""Webhook mode: the bot registers its URL with a secret token and answers updates Telegram posts to it."""

from __future__ import annotations

import socket

import aiohttp

from bot.chat.service import ChatService
from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.errors import LiqmapError
from bot.storage.db import Database
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import FAST, Harness, tg_settings

SECRET = "hook-secret-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def update(update_id: int, chat_id: int, text: str) -> dict[str, object]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_780_000_000, "text": text,
        "chat": {"id": chat_id, "type": "private", "first_name": "u"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "u"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }}


async def test_webhook_mode_checks_the_secret_and_answers(tg_db: Database, server: BotApiStandin) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg-hook"
    settings = tg_settings(server.base_url, telegram_mode="webhook", telegram_webhook_url=url,
                           telegram_webhook_secret=SECRET)
    service: ChatService = Harness(tg_db, server).service
    runner = TelegramRunner(settings, service, TelegramOptions(flood=FAST, webhook_listen="127.0.0.1",
                                                              webhook_port=port))
    await runner.start()
    try:
        [hook] = server.calls_of("setWebhook")
        assert hook.params["url"] == url and hook.params["secret_token"] == SECRET
        assert not server.calls_of("getUpdates")
        async with aiohttp.ClientSession() as http:
            forged = await http.post(url, json=update(1, 9, "/help"), headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
            assert forged.status == 403
            ok = await http.post(url, json=update(2, 9, "/start"), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert ok.status == 200
        await server.wait_for(lambda: bool(server.sent(9)))
        [reply] = server.sent(9)
        assert reply.params["text"].startswith("Hi! I'm liqmap")
    finally:
        await runner.stop()


async def test_webhook_mode_without_url_or_secret_is_a_clear_error(tg_db: Database, server: BotApiStandin) -> None:
    settings = tg_settings(server.base_url, telegram_mode="webhook")
    runner = TelegramRunner(settings, Harness(tg_db, server).service, TelegramOptions(flood=FAST))
    try:
        await runner.start()
    except LiqmapError as exc:
        assert "LIQMAP_TELEGRAM_WEBHOOK_URL" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("webhook mode started without a URL")
    assert not runner.application.running
