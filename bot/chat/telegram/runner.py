"""Runs the Telegram bot inside the app's asyncio loop: build the PTB ``Application``, receive updates, publish the
command menu, and stop in order. ``runner.notifier`` delivers outbox alerts.

Several replicas on one database: Telegram serves one ``getUpdates`` long poll per bot at a time (a new one ends the
one in flight with 409 Conflict), so in polling mode only the replica holding the ``telegram-updates`` lease polls
(``bot.chat.gateway_lease``: ttl 20 s, renewed every 5 s, so a dead poller is replaced within 25 s). Every replica
initializes the bot and runs the application, so each one sends alerts (the Bot API needs no poll for that).
In webhook mode every replica serves the webhook endpoint and no lease is used: each one calls ``setWebhook`` at
start with the same URL, secret and options, which is idempotent (Telegram keeps one webhook per bot, the last
call wins and they are all identical), and none calls ``deleteWebhook`` when it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.alerts.job import make_worker_id
from bot.chat.gateway_lease import GatewayLease, LeaseTiming
from bot.chat.service import ChatService
from bot.chat.telegram.adapter import TelegramAdapter
from bot.chat.telegram.limits import AdminCheck, FloodLimiter, FloodLimits, UserRateLimit
from bot.chat.telegram.notifier import TelegramNotifier
from bot.chat.telegram.redact import protect_token
from bot.config import Settings
from bot.errors import LiqmapError

log = logging.getLogger(__name__)
LEASE_NAME = "telegram-updates"  # held by the one replica that long-polls Telegram


@dataclass(frozen=True)
class TelegramOptions:
    """Knobs that are not user settings: flood limits, the per-user image limit (``image_requests`` per
    ``image_per_s`` seconds), how many updates run at once, the long-poll timeout, the webhook listener, the
    alert upload timeout and the timing of the polling lease."""

    flood: FloodLimits = field(default_factory=FloodLimits)
    image_requests: int = 6
    image_per_s: float = 60.0
    concurrent_updates: int = 256
    poll_timeout_s: int = 10
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    alert_read_timeout_s: float = 20.0
    lease: LeaseTiming = field(default_factory=LeaseTiming)


def file_url_for(api_url: str) -> str | None:
    """The Bot API file URL matching ``api_url`` (``.../bot`` → ``.../file/bot``); None keeps PTB's default."""
    base = api_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else None


class TelegramRunner:
    """The running Telegram bot. ``await start()`` once, ``await stop()`` at shutdown (safe to call twice).
    ``holder`` names this replica in the polling lease (default: a fresh worker id)."""

    def __init__(
        self, settings: Settings, service: ChatService, options: TelegramOptions | None = None, *, holder: str = ""
    ) -> None:
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
        self.lease = GatewayLease(
            service.db,
            LEASE_NAME,
            holder or make_worker_id("telegram"),
            begin=self._start_polling,
            end=self._stop_polling,
            what="Telegram updates (polling)",
            timing=self.options.lease,
        )
        self._running = False
        self._polling = False

    async def start(self, *, receive_updates: bool = True) -> None:
        """Log in (getMe) and start receiving updates: the webhook, or polling once this replica holds the lease
        (tried now, then every few seconds). ``receive_updates=False`` only logs in: enough for ``notifier`` (e.g.
        ``liqmap run --once``)."""
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
                await self.lease.stop()
                if app.running:
                    await app.stop()
                await app.shutdown()
                raise
        self._running = True
        if not receive_updates:
            mode = "send only"
        elif self.settings.telegram_mode == "webhook":
            mode = "webhook"
        else:
            mode = "polling" if self.lease.active else "polling standby: another replica polls"
        log.info("Telegram bot @%s started (%s)", app.bot.username, mode)

    @property
    def polling(self) -> bool:
        """True from the start of polling until it has fully stopped (including PTB's last, confirming
        getUpdates): while this replica may have a request to getUpdates in flight."""
        return self._polling

    async def _begin_updates(self) -> None:
        app = self.application
        if self.settings.telegram_mode == "webhook":
            await self._publish_menu()
            await self._start_webhook()
            await app.start()
        else:
            await app.start()  # handles the updates the poller fetches, whenever this replica polls
            await self.lease.start()

    async def _publish_menu(self) -> None:
        try:
            await self.adapter.register_menu(self.application)
        except TelegramError as exc:
            log.warning("could not publish the Telegram command menu: %s", exc.message)

    async def _start_polling(self) -> None:
        """Lease taken: publish the menu and long-poll (PTB confirms fetched updates when it stops)."""
        await self._publish_menu()
        assert self.application.updater is not None
        self._polling = True
        await self.application.updater.start_polling(
            timeout=self.options.poll_timeout_s, error_callback=self._polling_error, drop_pending_updates=False
        )

    async def _stop_polling(self) -> None:
        """Lease lost or shutting down: end the poll in flight (PTB then confirms what it fetched)."""
        updater = self.application.updater
        try:
            if updater is not None and updater.running:
                await updater.stop()
        finally:
            self._polling = False

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
        await self.lease.stop()  # stops polling, then releases the lease (no-op when never taken)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("Telegram bot stopped")


async def start_telegram(
    settings: Settings,
    service: ChatService,
    options: TelegramOptions | None = None,
    *,
    receive_updates: bool = True,
    holder: str = "",
) -> TelegramRunner:
    """Build and start the Telegram bot in the running loop; ``await runner.stop()`` at shutdown."""
    runner = TelegramRunner(settings, service, options, holder=holder)
    await runner.start(receive_updates=receive_updates)
    return runner
