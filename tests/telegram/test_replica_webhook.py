"""Webhook mode on several replicas sharing one database: no lease is needed. Every replica serves the webhook
endpoint (a proxy may send an update to any of them) and registers the same webhook at start, which is idempotent;
none polls and none deletes the webhook when it stops (that would cut the others off)."""

from __future__ import annotations

import aiohttp

from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.chat.telegram.runner import LEASE_NAME
from bot.clock import wall_ms as now_ms
from bot.storage import leases
from bot.storage.db import Database
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.harness import Harness, tg_settings
from tests.telegram.test_webhook import SECRET, free_port, update

URL = "https://bot.example.org/tg-hook"


async def test_every_replica_serves_the_webhook_and_registers_it_identically(
    tg_db: Database, server: BotApiStandin
) -> None:
    settings = tg_settings(server.base_url, telegram_mode="webhook", telegram_webhook_url=URL,
                           telegram_webhook_secret=SECRET)
    ports = [free_port(), free_port()]
    runners = [TelegramRunner(settings, Harness(tg_db, server).service,
                              TelegramOptions(webhook_listen="127.0.0.1", webhook_port=port)) for port in ports]
    for runner in runners:
        await runner.start()
    try:
        hooks = server.calls_of("setWebhook")
        assert len(hooks) == 2 and hooks[0].params == hooks[1].params
        assert hooks[0].params["url"] == URL and hooks[0].params["secret_token"] == SECRET
        async with aiohttp.ClientSession() as http:
            for n, port in enumerate(ports):
                ok = await http.post(f"http://127.0.0.1:{port}/tg-hook", json=update(n + 1, 30 + n, "/help"),
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                assert ok.status == 200
        await server.wait_for(lambda: bool(server.sent(30)) and bool(server.sent(31)))
        assert leases.lease_holder(tg_db, LEASE_NAME, now_ms()) is None
    finally:
        for runner in runners:
            await runner.stop()
    assert not server.calls_of("getUpdates") and not server.calls_of("deleteWebhook")
