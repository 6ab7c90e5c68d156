"""A liqmap Telegram bot (real PTB Application, real ChatService on SQLite and the sim market at a fixed clock)
running against the local Bot API stand-in, plus helpers to script a user and read what the server received."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib import image as mpimg

from bot.chat.service import ChatService
from bot.chat.telegram import TelegramOptions, TelegramRunner
from bot.chat.telegram.limits import FloodLimits
from bot.config import Settings
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock
from tests.standins.telegram_server import BotApiStandin, Call

TOKEN = "123456789:AAH-test-SECRET-token-do-not-log"
FAST = FloodLimits(per_chat_per_s=1000.0, per_group_per_min=10_000.0, overall_per_s=10_000.0)


def tg_settings(base_url: str, token: str = TOKEN, **kw: Any) -> Settings:
    return Settings(source="sim", telegram_token=token, telegram_api_url=base_url, _env_file=None, **kw)


def decode_png(png: bytes) -> np.ndarray:
    """The image as an (h, w, channels) array; raises when the bytes are not a PNG."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), png[:16]
    return np.asarray(mpimg.imread(io.BytesIO(png), format="png"))


class Harness:
    """The bot under test. ``options`` defaults to generous limits so tests are not slowed by flood control."""

    def __init__(self, db: Database, server: BotApiStandin, options: TelegramOptions | None = None) -> None:
        self.db = db
        self.server = server
        self.clock = Clock()
        engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
        self.settings = tg_settings(server.base_url)
        self.service = ChatService(db, engine, self.settings, render_cache=RenderCache(), clock=self.clock)
        self.options = options or TelegramOptions(flood=FAST, image_requests=100, poll_timeout_s=1)
        self.runner = TelegramRunner(self.settings, self.service, self.options)

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()

    async def say(self, chat_id: int, text: str, *, method: str = "", **kw: object) -> Call:
        """A user in ``chat_id`` sends ``text``; returns the bot's next message to that chat."""
        before = len(self.server.sent(chat_id))
        self.server.type_text(chat_id, text, **kw)  # type: ignore[arg-type]
        await self.server.wait_for(lambda: len(self.server.sent(chat_id)) > before)
        call = self.server.sent(chat_id)[before]
        assert not method or call.method == method, (call.method, call.params)
        return call

    async def press(self, chat_id: int, message_id: int, data: str, **kw: object) -> Call:
        """A user presses a button; returns the bot's answerCallbackQuery (after any edit)."""
        before = len(self.server.calls_of("answerCallbackQuery"))
        self.server.press(chat_id, message_id, data, **kw)  # type: ignore[arg-type]
        await self.server.wait_for(lambda: len(self.server.calls_of("answerCallbackQuery")) > before)
        return self.server.calls_of("answerCallbackQuery")[before]


def buttons(call: Call) -> list[list[tuple[str, str]]]:
    """(label, callback_data) rows of the call's inline keyboard."""
    markup = call.params.get("reply_markup") or {}
    return [[(b["text"], b["callback_data"]) for b in row] for row in markup.get("inline_keyboard", [])]
