"""Telegram reply latency: the real PTB bot, ``ChatService`` on SQLite and the sim market, against the local Bot API
stand-in shipped in the package (``bot.testing.telegram_api``), so it runs from an installed wheel too.

Latency of one ``/liqmap`` = the time from the user's update being queued at the server until the server received
the bot's ``sendPhoto``. *Cold*: a fresh service (nothing computed or rendered) answering ``BURST`` chats at once;
*warm*: ``BURST`` other chats right after. ``BURST`` stays under Telegram's 30 messages/s so the figure is ours, not
the flood limit's; the 200-chat load (``liqmap_load200_*``) shows the flood limit (30/s overall) at work.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bot.chat.service import ChatService
from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage import migrate
from bot.storage.db import Database
from bot.testing.telegram_api import BotApiStandin

NOW_MS = 1_780_000_000_000
EXCHANGES = ("binanceusdm", "bybit", "okx")
TOKEN = "4242:bench-token"
BURST = 20
LOAD_CHATS = 200


def _standin_class() -> type[BotApiStandin]:
    """The local Bot API stand-in the benchmarks talk to."""
    return BotApiStandin


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _burst(server: Any, chat_ids: range) -> list[float]:
    """Send /liqmap from every chat at once; latencies in ms once all are answered."""
    pushed = {c: server.type_text(c, "/liqmap") for c in chat_ids}
    await server.wait_for(lambda: all(server.sent(c, "sendPhoto") for c in chat_ids), timeout_s=60)
    return [1000 * (server.sent(c, "sendPhoto")[0].at - server.pushed_at[u]) for c, u in pushed.items()]


async def _round(db_url: str, chat_base: int, load: bool) -> tuple[list[float], list[float], list[float]]:
    server = _standin_class()(TOKEN)
    await server.start()
    db = Database(db_url)
    settings = Settings(source="sim", telegram_token=TOKEN, telegram_api_url=server.base_url, _env_file=None)
    service = ChatService(db, MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW_MS)), settings,
                          render_cache=RenderCache())
    runner = TelegramRunner(settings, service, TelegramOptions(poll_timeout_s=1))
    await runner.start()
    try:
        cold = await _burst(server, range(chat_base, chat_base + BURST))
        await asyncio.sleep(1.0)  # let the overall flood limiter refill: measure us, not it
        warm = await _burst(server, range(chat_base + BURST, chat_base + 2 * BURST))
        await asyncio.sleep(1.0)
        many = range(chat_base + 2 * BURST, chat_base + 2 * BURST + LOAD_CHATS)
        return cold, warm, (await _burst(server, many) if load else [])
    finally:
        await runner.stop()
        await server.close()
        db.dispose()


def bench_telegram(repeats: int = 3) -> dict[str, float]:
    """p50/p95 ``/liqmap`` reply latency, cold and warm (ms), over ``repeats`` fresh bots; plus the 200-chat load."""
    cold: list[float] = []
    warm: list[float] = []
    load: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp, 'bench.db').as_posix()}"
        migrate.upgrade(url)
        for i in range(repeats):
            c, w, ld = asyncio.run(_round(url, 1 + i * 1000, load=i == 0))
            cold += c
            warm += w
            load += ld
    return {
        "liqmap_p50_cold_ms": round(statistics.median(cold), 1),
        "liqmap_p95_cold_ms": round(_pct(cold, 0.95), 1),
        "liqmap_p50_warm_ms": round(statistics.median(warm), 1),
        "liqmap_p95_warm_ms": round(_pct(warm, 0.95), 1),
        "liqmap_load200_p95_ms": round(_pct(load, 0.95), 1),
        "liqmap_load200_max_ms": round(max(load), 1),
    }
