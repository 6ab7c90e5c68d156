"""The Telegram Bot API stand-in lives in the package (``bot.testing.telegram_api``: ``liqmap bench`` uses it too);
this module keeps the tests' import path."""

from bot.testing.telegram_api import BOT_ID, CONFLICT, BotApiStandin, Call, Fault

__all__ = ["BOT_ID", "CONFLICT", "BotApiStandin", "Call", "Fault"]
