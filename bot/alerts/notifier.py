"""What the dispatcher needs from a chat platform: one ``send`` and four ways for it to fail."""

from __future__ import annotations

from typing import Protocol


class ChatBlocked(Exception):
    """The chat blocked or removed the bot (Telegram Forbidden, Discord 403/404): deactivate it, never retry."""


class ChatMoved(Exception):
    """The chat lives at another id now (a Telegram group upgraded to a supergroup): move the chat, its subscriptions
    and pending alerts to ``new_external_id`` and send there (once)."""

    def __init__(self, message: str, new_external_id: str) -> None:
        super().__init__(message)
        self.new_external_id = new_external_id


class TransientSendError(Exception):
    """A temporary failure (network, 5xx, rate limit): retry later with backoff."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SendOutcomeUnknown(Exception):
    """The request may or may not have been delivered (e.g. a timeout after upload): never resent, marked failed."""


class Notifier(Protocol):
    """Delivers one message to one chat of its platform."""

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        """Send ``text`` (with the PNG as a photo/attachment when given); return the platform message id.

        ``side`` is the alerted cluster's side ('long' | 'short'), for platforms that colour alerts by side.

        Raises ``ChatBlocked``, ``ChatMoved``, ``TransientSendError`` or ``SendOutcomeUnknown``; anything else is
        treated as transient (logged, retried with backoff up to the attempt cap).
        """
        ...
