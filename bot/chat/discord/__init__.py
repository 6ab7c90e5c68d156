"""liqmap on Discord: slash commands and channel/DM alerts (discord.py 2.x), run inside the app's asyncio loop.

Wiring (``bot.app.run_app``)::

    runner = DiscordRunner(settings, service) if settings.discord_token else None
    notifiers["discord"] = runner.notifier      # alerts go over REST (a logged-in client without a gateway)
    await runner.start()                        # logs the sender in; competes for the gateway lease
    ...
    await runner.stop()                         # closes the gateway (if held) and both HTTP sessions

Several replicas on one database: only the replica holding the ``discord-gateway`` lease opens a gateway session
(``bot.chat.gateway_lease``: ttl 20 s, renewed every 5 s; a dead holder is replaced within 25 s), and only it receives
slash commands and button presses. Sending alerts needs no gateway: every replica posts them through its own
``sender``, a ``discord.Client`` that is only logged in (REST: ``login`` without ``connect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

import aiohttp
import discord

from bot.alerts.job import make_worker_id
from bot.chat.discord.bot import MAX_RATELIMIT_WAIT_S, LiqmapBot
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.discord.routes import RouteBook
from bot.chat.gateway_lease import GatewayLease, LeaseTiming
from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import LiqmapError

log = logging.getLogger(__name__)
LEASE_NAME = "discord-gateway"  # held by the one replica with a gateway session
LOGIN_RETRY_S = (5.0, 300.0)  # first and longest wait between sender login attempts while Discord is unreachable
STOP_GATEWAY_S = 10.0

__all__ = ["DiscordNotifier", "DiscordRunner", "LiqmapBot", "RouteBook"]


class DiscordRunner:
    """Owns the Discord clients: ``sender`` (REST only, used by ``notifier``) on every replica, and ``bot`` (the
    gateway client answering commands) on the replica holding the gateway lease. ``start()`` returns at once;
    ``stop()`` closes everything."""

    def __init__(
        self, settings: Settings, service: ChatService, *, holder: str = "", timing: LeaseTiming | None = None
    ) -> None:
        if settings.discord_token is None:
            raise LiqmapError("Discord needs LIQMAP_DISCORD_TOKEN (Developer Portal → your app → Bot → Reset Token)")
        self._token = settings.discord_token.get_secret_value()
        discord.VoiceClient.warn_nacl = False  # liqmap never joins voice channels
        self.routes = RouteBook(service.db)
        self.bot = LiqmapBot(service, settings, routes=self.routes)
        self.sender = discord.Client(intents=discord.Intents.none(), max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S)
        self.notifier = DiscordNotifier(self.sender, self.routes)
        self.lease = GatewayLease(
            service.db,
            LEASE_NAME,
            holder or make_worker_id("discord"),
            begin=self._connect,
            end=self._disconnect,
            what="Discord gateway events",
            timing=timing,
        )
        self.logged_in = asyncio.Event()  # the sender is logged in: alerts can be sent
        self._login_task: asyncio.Task[None] | None = None
        self._gateway_task: asyncio.Task[None] | None = None
        self._closing_gateway = False

    async def start(self, *, receive_events: bool = True) -> None:
        """Log the sender in (in the background, retried while Discord is unreachable) and, with
        ``receive_events``, take the gateway lease when free (tried now, then every few seconds)."""
        if self._login_task is None:
            self._login_task = asyncio.create_task(self._login_sender(), name="discord-login")
        if receive_events:
            await self.lease.start()

    async def _login_sender(self) -> None:
        wait, longest = LOGIN_RETRY_S
        while True:
            try:
                await self.sender.login(self._token)
            except discord.LoginFailure:
                log.error("Discord rejected the token: check LIQMAP_DISCORD_TOKEN (Discord stays off)")
                self.lease.relinquish("the token was rejected", retry_s=math.inf)
                return
            except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
                log.warning("cannot log in to Discord (%s: %s); retrying in %.0f s", type(exc).__name__, exc, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, longest)
                continue
            self.logged_in.set()
            return

    async def wait_logged_in(self, timeout_s: float = 30.0) -> bool:
        """Wait until the sender has logged in (alerts can be sent) or gave up; True when logged in."""
        if self._login_task is None:
            return False
        waiter = asyncio.ensure_future(self.logged_in.wait())
        await asyncio.wait({waiter, self._login_task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        return self.logged_in.is_set()

    @property
    def running(self) -> bool:
        """True while this replica's gateway client runs (it holds the lease)."""
        return self._gateway_task is not None and not self._gateway_task.done()

    async def _connect(self) -> None:
        """Lease taken: log the gateway client in (command sync in ``setup_hook``) and connect, as a task."""
        if self.bot.is_closed():
            self.bot.clear()  # a client closed when an earlier lease ended is reopened
        self._gateway_task = asyncio.create_task(self._run_gateway(), name="discord-gateway")

    async def _run_gateway(self) -> None:
        try:
            await self.bot.start(self._token)
        except discord.LoginFailure:
            log.error("Discord rejected the token: check LIQMAP_DISCORD_TOKEN (Discord stays off)")
            self.lease.relinquish("the token was rejected", retry_s=math.inf)
            return
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the gateway intents (Discord commands stay off)")
            self.lease.relinquish("the gateway intents were refused", retry_s=math.inf)
            return
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            if not self._closing_gateway:
                log.error("Discord gateway unreachable (%s: %s)", type(exc).__name__, exc)
                self.lease.relinquish("the gateway is unreachable")
            return
        except Exception:
            if self._closing_gateway or self.bot.is_closed():  # closing while connecting: discord.py may trip
                log.debug("Discord gateway task ended while closing", exc_info=True)
                return
            log.exception("Discord gateway stopped with an error")
            self.lease.relinquish("the gateway stopped with an error")
            return
        if not self._closing_gateway:
            self.lease.relinquish("the gateway closed")

    async def _disconnect(self) -> None:
        """Lease lost or shutting down: close the gateway client (session and its HTTP session)."""
        task, self._gateway_task = self._gateway_task, None
        if task is None:
            return
        self._closing_gateway = True
        try:
            await self.bot.close()
            done, _ = await asyncio.wait({task}, timeout=STOP_GATEWAY_S)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        finally:
            self._closing_gateway = False

    async def stop(self) -> None:
        """Close the gateway (if held; the lease is released) and the sender, and wait for their tasks."""
        await self.lease.stop()
        await self._disconnect()
        if self._login_task is not None:
            self._login_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._login_task
            self._login_task = None
        await self.sender.close()
