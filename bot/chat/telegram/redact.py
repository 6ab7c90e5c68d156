"""Keeps the bot token out of every log record (httpx logs request URLs, which contain the token).

The masking itself is the process-wide redaction of ``bot.ops.logging`` (one implementation for every secret).
"""

from __future__ import annotations

from bot.ops.logging import protect_secret, redact

MASK = "<telegram-token>"
__all__ = ["MASK", "protect_token", "redact"]


def protect_token(token: str) -> None:
    """Mask ``token`` as ``<telegram-token>`` in all log records for the rest of the process."""
    protect_secret(token, "telegram-token")
