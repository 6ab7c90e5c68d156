"""Logging for operators: plain or JSON lines, and one redaction step that masks every configured secret.

``redact_record`` is the single place secrets are removed. It runs (1) as a log-record factory, so every record any
library creates (httpx request URLs with the Telegram token, SQLAlchemy errors with the DB URL) is masked before any
handler sees it, including handlers we do not own, and (2) as ``RedactFilter`` on the root handler installed by
``setup_logging``, which also masks formatted tracebacks (``exc_text``) and ``stack_info``.

Masked: registered secrets (``protect_secret``; ``protect_settings`` registers the Telegram and Discord tokens, the
webhook secret, exchange API keys/secrets and the database password), their URL-quoted forms, and the password part
of any ``scheme://user:password@host`` URL. Secrets shorter than ``MIN_SECRET_CHARS`` are not masked literally
(masking ``"ab"`` would shred every message); the URL rule still hides a short database password.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from typing import IO, Any
from urllib.parse import quote, quote_plus

from bot.config import Settings, load_settings
from bot.errors import LiqmapError

MIN_SECRET_CHARS = 4
URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+@")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRETS: dict[str, str] = {}  # secret text -> mask
_factory_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret (longest first) and every URL password masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _SECRETS[secret])
    if "://" in text:
        text = URL_PASSWORD.sub(r"\g<head><password>@", text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in the record's message, its formatted exception and its stack info, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to the handler to report
        return
    masked = redact(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactFilter(logging.Filter):
    """The root handler's filter: masks secrets (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _install_factory() -> None:
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _SECRETS:
            redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def protect_secret(secret: str, label: str = "secret") -> None:
    """Mask ``secret`` (and its URL-quoted forms) as ``<label>`` in every log record for the rest of the process."""
    if len(secret) < MIN_SECRET_CHARS:
        return
    _install_factory()
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        _SECRETS[form] = f"<{label}>"


def database_password(url: str) -> str | None:
    """The password in a SQLAlchemy URL, or None (no URL, no password, or not a URL)."""
    if not url:
        return None
    from sqlalchemy import make_url  # here, not at import: every CLI command sets up logging
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def protect_settings(settings: Settings) -> None:
    """Register every secret the settings hold: chat tokens, the webhook secret, exchange keys, the DB password."""
    if settings.telegram_token is not None:
        protect_secret(settings.telegram_token.get_secret_value(), "telegram-token")
    if settings.telegram_webhook_secret is not None:
        protect_secret(settings.telegram_webhook_secret.get_secret_value(), "telegram-webhook-secret")
    if settings.discord_token is not None:
        protect_secret(settings.discord_token.get_secret_value(), "discord-token")
    for exchange, key in settings.exchange_api_keys.items():
        protect_secret(key.get_secret_value(), f"{exchange}-api-key")
    for exchange, secret in settings.exchange_api_secrets.items():
        protect_secret(secret.get_secret_value(), f"{exchange}-api-secret")
    password = database_password(settings.database_url)
    if password:
        protect_secret(password, "db-password")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO 8601 UTC, ms), ``level``, ``logger``, ``message``, and ``exc`` /
    ``stack`` when present."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        out: dict[str, object] = {
            "ts": ts,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


def _level(settings: Settings | None, default_level: str) -> int:
    if settings is not None and "log_level" in settings.model_fields_set:
        name = settings.log_level
    else:
        name = os.environ.get("LIQMAP_LOG_LEVEL") or default_level  # empty means unset
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        raise LiqmapError(f"invalid setting: LIQMAP_LOG_LEVEL: unknown level {name!r} (DEBUG, INFO, WARNING, ERROR)")
    return level


def setup_logging(
    settings: Settings | None = None, *, default_level: str = "INFO", stream: IO[str] | None = None
) -> logging.Handler:
    """Install the root handler (JSON when ``settings.log_json``) with ``RedactFilter``; returns it.

    ``settings`` None loads them from the environment (falling back to plain logging when they are invalid: the
    command reports that). The level is ``LIQMAP_LOG_LEVEL`` when set, else ``default_level``. Calling it again
    replaces the handler it installed before.
    """
    if settings is None:
        try:
            settings = load_settings()
        except LiqmapError:
            settings = None
    level = _level(settings, default_level)
    if settings is not None:
        protect_settings(settings)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    as_json = settings is not None and settings.log_json
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(RedactFilter())
    handler.set_name("liqmap")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "liqmap"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries(level)
    return handler


LIBRARY_LOGGERS = ("httpx", "httpcore", "telegram", "discord", "ccxt", "aiohttp", "asyncio", "urllib3", "alembic",
                   "apscheduler", "matplotlib", "PIL")


def quiet_libraries(level: int) -> None:
    """Library chatter (e.g. httpx's INFO line for every Telegram long poll) is kept at WARNING unless the bot's own
    level is DEBUG, when everything shows."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else max(level, logging.WARNING))
