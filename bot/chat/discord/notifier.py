"""Delivers alerts to Discord through discord.py's own HTTP client (its rate limiter handles 429s).

Outcomes (see ``bot.alerts.notifier``): 403/404 (channel deleted, bot removed or missing permission, DMs closed)
→ ``ChatBlocked`` (the dispatcher deactivates the chat, i.e. disables that route); a 429 is waited out and retried
by discord.py itself, so no retry loop here; a wait longer than the client's ``max_ratelimit_timeout``, other HTTP
errors and connection failures → ``TransientSendError``; a timeout after the upload started → ``SendOutcomeUnknown``.
"""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.http import handle_message_parameters

from bot.alerts.notifier import ChatBlocked, SendOutcomeUnknown, TransientSendError
from bot.chat.discord.embeds import alert_embed, png_file
from bot.chat.discord.routes import RouteBook

log = logging.getLogger(__name__)
NOT_CONNECTED_RETRY_S = 15.0


class DiscordNotifier:
    """``Notifier`` for platform 'discord'. ``client`` is the running bot (or any logged-in ``discord.Client``);
    ``routes`` resolves ``guild:<id>`` chats to their alerts channel."""

    def __init__(self, client: discord.Client, routes: RouteBook) -> None:
        self.client = client
        self.routes = routes
        self._dm_channels: dict[int, int] = {}

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        """Post the alert as an embed (coloured by side) with the PNG attached; returns the message id."""
        if self.client.http.token is None:
            raise TransientSendError("Discord client is not logged in yet", retry_after_s=NOT_CONNECTED_RETRY_S)
        try:
            channel_id = await self._channel_id(chat_external_id)
            embed = alert_embed(text, side, with_image=png is not None)
            if png is not None:
                params = handle_message_parameters(embed=embed, file=png_file(png))
            else:
                params = handle_message_parameters(embed=embed)
            with params:
                data = await self.client.http.send_message(channel_id, params=params)
        except (discord.Forbidden, discord.NotFound) as exc:
            self._forget_dm(chat_external_id)
            raise ChatBlocked(f"Discord {exc.status}: {exc.text or exc.response.reason}") from exc
        except discord.RateLimited as exc:
            raise TransientSendError(f"Discord rate limit: {exc}", retry_after_s=exc.retry_after) from exc
        except discord.HTTPException as exc:
            raise TransientSendError(f"Discord {exc.status}: {exc.text or exc.response.reason}") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise SendOutcomeUnknown(f"Discord did not answer in time: {exc or type(exc).__name__}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientSendError(f"cannot reach Discord: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SendOutcomeUnknown(f"connection to Discord broke: {exc or type(exc).__name__}") from exc
        return str(data["id"])

    async def _channel_id(self, external_id: str) -> int:
        kind, _, ident = external_id.rpartition(":")
        if not ident.isdigit():
            raise ChatBlocked(f"not a Discord chat id: {external_id!r}")
        if kind == "user":
            return await self._dm_channel(int(ident))
        if kind == "guild":
            channel = await self.routes.channel_for(ident)
            if channel is None:
                raise ChatBlocked("this server has no alerts channel: a moderator can run /alerts-channel set")
            return channel
        if kind == "":
            return int(ident)
        raise ChatBlocked(f"unknown Discord chat kind in {external_id!r}")

    def _forget_dm(self, external_id: str) -> None:
        kind, _, ident = external_id.rpartition(":")
        if kind == "user" and ident.isdigit():
            self._dm_channels.pop(int(ident), None)

    async def _dm_channel(self, user_id: int) -> int:
        cached = self._dm_channels.get(user_id)
        if cached is None:
            data = await self.client.http.start_private_message(user_id)
            cached = self._dm_channels[user_id] = int(data["id"])
        return cached
