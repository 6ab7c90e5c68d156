"""liqmap on Telegram (python-telegram-bot v22): commands and buttons → ``ChatService``, alerts via the notifier.

Entry point for the app: ``runner = await start_telegram(settings, service)``; ``runner.notifier`` is the
``Notifier`` for platform 'telegram'; ``await runner.stop()`` at shutdown.
"""

from bot.chat.telegram.notifier import TelegramNotifier
from bot.chat.telegram.runner import TelegramOptions, TelegramRunner, start_telegram

__all__ = ["TelegramNotifier", "TelegramOptions", "TelegramRunner", "start_telegram"]
