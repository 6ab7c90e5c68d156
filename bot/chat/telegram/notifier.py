"""Delivers outbox alerts to Telegram chats as a photo with caption (or plain text), mapping PTB errors onto the
dispatcher's outcomes (see ``bot.alerts.notifier``):

- ``Forbidden`` (bot blocked, kicked, chat deleted) and ``BadRequest: chat not found`` → ``ChatBlocked``;
- ``ChatMigrated`` (the group became a supergroup) → ``ChatMoved`` to the supergroup's id (the dispatcher moves the
  chat and resends there);
- ``RetryAfter`` → ``TransientSendError(retry_after_s)`` (the outbox waits as told, the limiter does not block);
- ``TimedOut`` or a broken connection after the request left → ``SendOutcomeUnknown``: the photo may have arrived,
  so it is never resent blindly;
- connect/pool timeouts, unreachable host, 5xx and other ``BadRequest`` → ``TransientSendError`` (nothing was
  delivered; retried with backoff up to the attempt cap).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from telegram.constants import MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.alerts.notifier import ChatBlocked, ChatMoved, SendOutcomeUnknown, TransientSendError
from bot.chat.telegram.limits import retry_after_s

log = logging.getLogger(__name__)
CAPTION_MAX = MessageLimit.CAPTION_LENGTH  # 1024 characters
TEXT_MAX = MessageLimit.MAX_TEXT_LENGTH  # 4096 characters
GONE_HINTS = ("chat not found", "user is deactivated", "bot was kicked", "group chat was deactivated")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def maybe_delivered(exc: NetworkError) -> bool:
    """True when the request may have reached Telegram: a timeout or broken connection after it was sent.
    False for connect/pool failures and for answers Telegram gave (5xx): nothing was delivered then."""
    cause = exc.__cause__
    if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return False
    if "pool timeout" in str(exc).lower():
        return False
    return isinstance(exc, TimedOut) or isinstance(cause, httpx.TransportError)


class TelegramNotifier:
    """``Notifier`` for platform 'telegram' on an initialized PTB ``Bot`` (normally the running application's, so
    alerts share its flood limiter). ``read_timeout_s``: how long to wait for Telegram's answer to an upload."""

    def __init__(self, bot: ExtBot[Any], *, read_timeout_s: float = 20.0) -> None:
        self.bot = bot
        self.read_timeout_s = read_timeout_s

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        """Send the alert (photo + caption when ``png`` is given); returns the Telegram message id."""
        try:
            chat_id = int(chat_external_id)
        except ValueError:
            raise ChatBlocked(f"not a Telegram chat id: {chat_external_id!r}") from None
        try:
            if png is not None:
                if len(text) > CAPTION_MAX:
                    log.warning("alert caption of %d characters cut to %d for chat %s", len(text), CAPTION_MAX, chat_id)
                message = await self.bot.send_photo(
                    chat_id,
                    photo=png,
                    caption=clip(text, CAPTION_MAX),
                    read_timeout=self.read_timeout_s,
                    rate_limit_args=0,
                )
            else:
                message = await self.bot.send_message(
                    chat_id, clip(text, TEXT_MAX), read_timeout=self.read_timeout_s, rate_limit_args=0
                )
        except Forbidden as exc:
            raise ChatBlocked(f"Telegram: {exc.message}") from exc
        except ChatMigrated as exc:
            raise ChatMoved(f"Telegram: group moved to supergroup {exc.new_chat_id}", str(exc.new_chat_id)) from exc
        except RetryAfter as exc:
            raise TransientSendError(f"Telegram flood limit: {exc.message}", retry_after_s=retry_after_s(exc)) from exc
        except BadRequest as exc:
            if any(hint in exc.message.lower() for hint in GONE_HINTS):
                raise ChatBlocked(f"Telegram: {exc.message}") from exc
            raise TransientSendError(f"Telegram rejected the alert: {exc.message}") from exc
        except NetworkError as exc:  # includes TimedOut
            if maybe_delivered(exc):
                raise SendOutcomeUnknown(f"Telegram did not answer ({exc.message}); not resending") from exc
            raise TransientSendError(f"Telegram unreachable: {exc.message}") from exc
        return str(message.message_id)
