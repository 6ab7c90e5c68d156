"""Hostile input end to end through Telegram (real PTB, the real ChatService, SQLite, against the Bot API stand-in):
a cooldown of 400 digits, a 4,015-character command, non-ASCII digits and made-up symbols each get one short clear
line back, never the "something went wrong" apology, an exception in the log, or the whole input echoed."""

from __future__ import annotations

import logging

import pytest

from bot.chat.service import SORRY
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.telegram.conftest import bot, server, tg_db  # noqa: F401
from tests.telegram.harness import Harness

USER = 4242
SHORT = 300  # an error reply quotes a short prefix of the input, not the input


def alerts(db: Database, chat_id: int) -> int:
    with db.session() as s:
        chat = chats.find_chat(s, "telegram", str(chat_id))
        return len(subscriptions.list_subscriptions(s, chat.id)) if chat is not None else 0


async def test_a_400_digit_cooldown_answers_the_allowed_range(
    bot: Harness, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    with caplog.at_level(logging.WARNING):
        reply = await bot.say(USER, "/alert add BTC 1% cooldown " + "9" * 400 + "m", method="sendMessage")
    text = reply.params["text"]
    assert text != SORRY and "between 1m and 7d" in text and len(text) <= SHORT, text
    assert "OverflowError" not in caplog.text and "Traceback" not in caplog.text
    assert alerts(bot.db, USER) == 0


async def test_a_4015_character_command_gets_a_short_reply(bot: Harness) -> None:  # noqa: F811
    commands = [
        "/alert add " + "X" * 4_004,
        "/alert add BTC " + "1" * 4_000 + "%",
        "/alert add BTC 1% side " + "long" * 998,
        "/alert remove " + "7" * 4_001,
        "/levels " + "Q" * 4_007,
        "/liqmap " + "Q" * 4_007,
    ]
    for command in commands:
        assert len(command) >= 4_015
        reply = await bot.say(USER, command, method="sendMessage")
        text = reply.params["text"]
        assert text != SORRY and len(text) <= SHORT and "…" in text, (command[:30], len(text), text[:200])
    assert alerts(bot.db, USER) == 0


@pytest.mark.parametrize("number", ["١٢%", "１２%", "1e400", "nan", "inf", "min ١٢M", "cooldown １２m"])
async def test_numbers_other_than_ascii_decimals_are_refused(bot: Harness, number: str) -> None:  # noqa: F811
    reply = await bot.say(USER, f"/alert add BTC {number}", method="sendMessage")
    text = reply.params["text"]
    assert text != SORRY and not text.startswith("Alert #") and len(text) <= SHORT, text
    assert alerts(bot.db, USER) == 0


async def test_made_up_symbols_are_answered_without_a_map(bot: Harness) -> None:  # noqa: F811
    for i in range(12):
        reply = await bot.say(USER + i, f"/levels FAKE{i}", method="sendMessage")
        assert reply.params["text"] == f"unknown symbol FAKE{i}USDT: not listed on binanceusdm, bybit, okx"
    assert len(bot.service.renders) == 0
    assert (await bot.say(USER, "/liqmap ETH 24h", method="sendPhoto")).files["photo"]  # a real one still works
