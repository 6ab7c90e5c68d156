"""liqmap on Discord: slash commands and channel/DM alerts (discord.py 2.x), run inside the app's asyncio loop.

Wiring (``bot.app.run_app``)::

    runner = DiscordRunner(settings, service) if settings.discord_token else None
    notifiers["discord"] = runner.notifier      # alerts go through the bot's own HTTP client
    await runner.start()                        # a task running ``await bot.start(token)``
    ...
    await runner.stop()                         # closes the gateway and the HTTP session
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord

from bot.chat.discord.bot import LiqmapBot
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.discord.routes import RouteBook
from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import LiqmapError

log = logging.getLogger(__name__)

__all__ = ["DiscordNotifier", "DiscordRunner", "LiqmapBot", "RouteBook"]


class DiscordRunner:
    """Owns the Discord bot task: ``start()`` logs in (command sync happens in ``setup_hook``) and connects in the
    background; ``stop()`` closes it. ``notifier`` sends alerts through the same client."""

    def __init__(self, settings: Settings, service: ChatService) -> None:
        if settings.discord_token is None:
            raise LiqmapError("Discord needs LIQMAP_DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)")
        self._token = settings.discord_token.get_secret_value()
        discord.VoiceClient.warn_nacl = False  # liqmap never joins voice channels
        self.routes = RouteBook(service.db)
        self.bot = LiqmapBot(service, settings, routes=self.routes)
        self.notifier = DiscordNotifier(self.bot, self.routes)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start ``await bot.start(token)`` as a task of the running loop (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="discord")

    async def _run(self) -> None:
        try:
            await self.bot.start(self._token)
        except discord.LoginFailure:
            log.error("Discord rejected the token: check LIQMAP_DISCORD_TOKEN (Discord stays off)")
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the gateway intents (Discord stays off)")
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            log.error("Discord is unreachable (%s: %s); Discord stays off until restart", type(exc).__name__, exc)
        except Exception:
            if self.bot.is_closed():  # stop() while still connecting: discord.py may trip over its own teardown
                log.debug("Discord bot task ended while closing", exc_info=True)
                return
            log.exception("Discord bot stopped with an error (Discord stays off; alerts to Discord will retry)")

    async def wait_logged_in(self, timeout_s: float = 30.0) -> bool:
        """Wait until the bot has logged in (alerts can be sent) or stopped; True when logged in."""
        if self._task is None:
            return False
        waiter = asyncio.ensure_future(self.bot.logged_in.wait())
        await asyncio.wait({waiter, self._task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        return self.bot.logged_in.is_set()

    @property
    def running(self) -> bool:
        """True while the bot task runs."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Close the bot (gateway and HTTP session) and wait for its task."""
        await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
