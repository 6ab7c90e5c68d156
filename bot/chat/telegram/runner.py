"""Runs the Telegram bot inside the app's asyncio loop: build the PTB ``Application``, start polling (or the
webhook), publish the command menu, and stop in order. ``runner.notifier`` delivers outbox alerts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.chat.service import ChatService
from bot.chat.telegram.adapter import TelegramAdapter
from bot.chat.telegram.limits import AdminCheck, FloodLimiter, FloodLimits, UserRateLimit
from bot.chat.telegram.notifier import TelegramNotifier
from bot.chat.telegram.redact import protect_token
from bot.config import Settings
from bot.errors import LiqmapError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TelegramOptions:
    """Knobs that are not user settings: flood limits, the per-user image limit (``image_requests`` per
    ``image_per_s`` seconds), how many updates run at once, the long-poll timeout, the webhook listener and the
    alert upload timeout."""

    flood: FloodLimits = field(default_factory=FloodLimits)
    image_requests: int = 6
    image_per_s: float = 60.0
    concurrent_updates: int = 256
    poll_timeout_s: int = 10
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    alert_read_timeout_s: float = 20.0


def file_url_for(api_url: str) -> str | None:
    """The Bot API file URL matching ``api_url`` (``.../bot`` → ``.../file/bot``); None keeps PTB's default."""
    base = api_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else None


class TelegramRunner:
    """The running Telegram bot. ``await start()`` once, ``await stop()`` at shutdown (safe to call twice)."""

    def __init__(self, settings: Settings, service: ChatService, options: TelegramOptions | None = None) -> None:
        if settings.telegram_token is None:
            raise LiqmapError("Telegram needs LIQMAP_TELEGRAM_TOKEN (the token @BotFather gave you)")
        self.settings = settings
        self.options = options or TelegramOptions()
        token = settings.telegram_token.get_secret_value()
        protect_token(token)
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(settings.telegram_api_url)
            .rate_limiter(FloodLimiter(self.options.flood))
            .concurrent_updates(self.options.concurrent_updates)
        )
        file_url = file_url_for(settings.telegram_api_url)
        if file_url is not None:
            builder = builder.base_file_url(file_url)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.adapter = TelegramAdapter(
            service,
            user_limit=UserRateLimit(self.options.image_requests, self.options.image_per_s),
            admins=AdminCheck(),
        )
        self.adapter.install(self.application)
        self.notifier = TelegramNotifier(self.application.bot, read_timeout_s=self.options.alert_read_timeout_s)
        self._running = False

    async def start(self, *, receive_updates: bool = True) -> None:
        """Log in (getMe), publish the command menu, start receiving updates (polling or webhook).
        ``receive_updates=False`` only logs in: enough for ``notifier`` (e.g. ``liqmap run --once``)."""
        app = self.application
        try:
            await app.initialize()
        except InvalidToken:
            raise LiqmapError("Telegram rejected LIQMAP_TELEGRAM_TOKEN: check the token @BotFather gave you") from None
        except TelegramError as exc:
            raise LiqmapError(f"cannot reach the Telegram Bot API at its base URL: {exc.message}") from None
        if receive_updates:
            try:
                await self._begin_updates()
            except BaseException:
                await app.shutdown()
                raise
        self._running = True
        mode = self.settings.telegram_mode if receive_updates else "send only"
        log.info("Telegram bot @%s started (%s)", app.bot.username, mode)

    async def _begin_updates(self) -> None:
        app = self.application
        try:
            await self.adapter.register_menu(app)
        except TelegramError as exc:
            log.warning("could not publish the Telegram command menu: %s", exc.message)
        assert app.updater is not None
        if self.settings.telegram_mode == "webhook":
            await self._start_webhook()
        else:
            await app.updater.start_polling(
                timeout=self.options.poll_timeout_s, error_callback=self._polling_error, drop_pending_updates=False
            )
        await app.start()

    async def _start_webhook(self) -> None:
        url = self.settings.telegram_webhook_url
        secret = self.settings.telegram_webhook_secret
        if not url or secret is None:
            raise LiqmapError(
                "webhook mode needs LIQMAP_TELEGRAM_WEBHOOK_URL (public https URL) and LIQMAP_TELEGRAM_WEBHOOK_SECRET"
            )
        assert self.application.updater is not None
        await self.application.updater.start_webhook(
            listen=self.options.webhook_listen,
            port=self.options.webhook_port,
            url_path=urlsplit(url).path.lstrip("/"),
            webhook_url=url,
            secret_token=secret.get_secret_value(),
        )

    @staticmethod
    def _polling_error(exc: TelegramError) -> None:
        log.warning("Telegram polling failed (retrying): %s", exc)

    async def stop(self) -> None:
        """Stop receiving updates, finish running handlers, close the HTTP clients."""
        if not self._running:
            return
        self._running = False
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("Telegram bot stopped")


async def start_telegram(
    settings: Settings, service: ChatService, options: TelegramOptions | None = None, *, receive_updates: bool = True
) -> TelegramRunner:
    """Build and start the Telegram bot in the running loop; ``await runner.stop()`` at shutdown."""
    runner = TelegramRunner(settings, service, options)
    await runner.start(receive_updates=receive_updates)
    return runner
