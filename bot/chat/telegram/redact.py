"""Keeps bot tokens out of every log record (httpx logs request URLs, which contain the token)."""

from __future__ import annotations

import logging
from typing import Any

_TOKENS: set[str] = set()
_installed = False
MASK = "<telegram-token>"


def redact(text: str) -> str:
    """``text`` with every registered token masked."""
    for token in _TOKENS:
        text = text.replace(token, MASK)
    return text


def _install() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _TOKENS:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: leave it to the handler to report
                return record
            if any(token in message for token in _TOKENS):
                record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def protect_token(token: str) -> None:
    """Mask ``token`` in all log records for the rest of the process."""
    _install()
    _TOKENS.add(token)

