"""The slash commands: /liqmap, /levels, /alert add|list|remove|pause|resume, /alerts-channel set|clear, /status.

Each command calls ``ChatService`` and renders its ``Reply``; image commands ``defer()`` first so the 3-second
interaction deadline never fails. Invalid input gets an ephemeral one-liner with the correct form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice

from bot.chat.discord.embeds import code_block
from bot.chat.discord.replies import answer, chat_of, send_reply
from bot.chat.limits import try_again_text
from bot.chat.parse import CommandError, parse_chat_symbol
from bot.chat.reply import Reply
from bot.market.symbols import display_symbol
from bot.model.types import WINDOWS
from bot.render import KINDS

if TYPE_CHECKING:
    from bot.chat.discord.bot import LiqmapBot

ADD_EXAMPLE = "Example: /alert add symbol:BTC proximity:1.5% min:50M side:long window:24h cooldown:30m"
EXTRA_SYMBOLS = ("BTCUSDT", "BTCUSD")  # linear and inverse perpetuals, always offered
WINDOW_CHOICES = [Choice(name=w, value=w) for w in WINDOWS]
KIND_CHOICES = [Choice(name=k, value=k) for k in KINDS]
SIDE_CHOICES = [Choice(name=s, value=s) for s in ("long", "short", "both")]


def _value(choice: Choice[str] | None) -> str:
    return choice.value if choice is not None else ""


def _require_moderator(interaction: discord.Interaction) -> None:
    """A server's alerts belong to the server: changing them needs Manage Channels (DMs manage personal alerts).

    Raises ``MissingPermissions``, which the bot answers with an ephemeral explanation."""
    if interaction.guild_id is not None and not interaction.permissions.manage_channels:
        raise app_commands.MissingPermissions(["manage_channels"])


async def _bad_symbol(interaction: discord.Interaction, symbol: str) -> bool:
    """Answer ephemerally (before any defer, so it stays private) when ``symbol`` is not a symbol we know."""
    if not symbol.strip():
        return False
    try:
        parse_chat_symbol(symbol)
    except CommandError as exc:
        await answer(interaction, str(exc), ephemeral=True)
        return True
    return False


def register(bot: LiqmapBot) -> None:
    """Add every liqmap command to ``bot.tree``."""
    service = bot.service
    tree = bot.tree
    offered = tuple(dict.fromkeys([*(display_symbol(s) for s in bot.settings.symbols), *EXTRA_SYMBOLS]))

    async def symbol_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        typed = current.strip().upper()
        return [Choice(name=s, value=s) for s in offered if typed in s.upper()][:25]

    @tree.command(name="liqmap", description="Estimated liquidation heatmap of a BTC perpetual")
    @app_commands.describe(symbol="e.g. BTC, BTCUSDT or BTCUSD", window="lookback window", kind="heatmap or map")
    @app_commands.choices(window=WINDOW_CHOICES, kind=KIND_CHOICES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def liqmap(
        interaction: discord.Interaction,
        symbol: str = "",
        window: Choice[str] | None = None,
        kind: Choice[str] | None = None,
    ) -> None:
        if await _bad_symbol(interaction, symbol):
            return
        wait = bot.user_images.wait_s(interaction.user.id)
        if wait:
            await answer(interaction, try_again_text(wait), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        reply = await service.liqmap(chat_of(interaction), symbol, _value(window), _value(kind) or "heatmap")
        await send_reply(interaction, reply)

    @tree.command(name="levels", description="Nearest and largest estimated liquidation clusters as text")
    @app_commands.choices(window=WINDOW_CHOICES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def levels(interaction: discord.Interaction, symbol: str = "", window: Choice[str] | None = None) -> None:
        if await _bad_symbol(interaction, symbol):
            return
        await interaction.response.defer(thinking=True)
        reply = await service.levels(chat_of(interaction), symbol, _value(window))
        await send_reply(interaction, reply if reply.error else Reply(code_block(reply.text)))

    @tree.command(name="status", description="Data freshness, the next run and your active alerts")
    async def status(interaction: discord.Interaction) -> None:
        reply = await service.status(chat_of(interaction))
        if not reply.error and interaction.guild_id is not None:
            channel = await bot.routes.channel_for(interaction.guild_id)
            where = f"<#{channel}>" if channel else "none (set one with /alerts-channel set)"
            reply = Reply(f"{reply.text}\nAlerts channel: {where}")
        await send_reply(interaction, reply, ephemeral=True)

    alert = app_commands.Group(name="alert", description="Liquidation-cluster alerts (DM: yours; server: the server's)")

    @alert.command(
        name="add", description="Alert when price nears a liquidation cluster (in a server: needs Manage Channels)"
    )
    @app_commands.describe(
        symbol="e.g. BTC",
        proximity="distance from price, e.g. 1.5% (default 1%)",
        minimum="smallest cluster: USD like 50M, or share of the side like 5%",
        side="which clusters (default both)",
        window="map window (default 24h)",
        cooldown="quiet time between alerts, e.g. 30m (default), 2h",
    )
    @app_commands.rename(minimum="min")
    @app_commands.choices(side=SIDE_CHOICES, window=WINDOW_CHOICES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def alert_add(
        interaction: discord.Interaction,
        symbol: str,
        proximity: str = "",
        minimum: str = "",
        side: Choice[str] | None = None,
        window: Choice[str] | None = None,
        cooldown: str = "",
    ) -> None:
        _require_moderator(interaction)
        words = [symbol, proximity]
        named = (("min", minimum), ("side", _value(side)), ("window", _value(window)), ("cooldown", cooldown))
        for key, value in named:
            if value.strip():
                words += [key, value]
        reply = await service.alert_add(chat_of(interaction), " ".join(w for w in words if w.strip()))
        if reply.error:
            await answer(interaction, f"{reply.text}\n{ADD_EXAMPLE}", ephemeral=True)
            return
        text = reply.text
        if interaction.guild_id is not None:
            channel = await bot.routes.channel_for(interaction.guild_id)
            if channel is None and interaction.channel_id is not None:
                await bot.routes.set(interaction.guild_id, interaction.channel_id)
                text += (
                    f"\nThis server's alerts will be posted in <#{interaction.channel_id}>; "
                    "a moderator can change that with /alerts-channel set."
                )
            elif channel is not None:
                text += f"\nThis server's alerts go to <#{channel}>."
        await answer(interaction, text)

    @alert.command(name="test", description="How an alert would have done over the last 7 days (history)")
    @app_commands.describe(symbol="e.g. BTC", proximity="distance from price, e.g. 1.5% (default 1%)",
                           minimum="smallest cluster: USD like 50M, or share of the side like 5%",
                           side="which clusters (default both)", window="map window (default 24h)",
                           cooldown="quiet time between alerts, e.g. 30m (default)")
    @app_commands.rename(minimum="min")
    @app_commands.choices(side=SIDE_CHOICES, window=WINDOW_CHOICES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def alert_test(interaction: discord.Interaction, symbol: str, proximity: str = "", minimum: str = "",
                         side: Choice[str] | None = None, window: Choice[str] | None = None,
                         cooldown: str = "") -> None:
        await interaction.response.defer(thinking=True)
        words = [symbol, proximity]
        for key, value in (("min", minimum), ("side", _value(side)), ("window", _value(window)),
                           ("cooldown", cooldown)):
            if value.strip():
                words += [key, value]
        reply = await service.alert_test(chat_of(interaction), " ".join(w for w in words if w.strip()))
        await send_reply(interaction, reply)

    @alert.command(name="list", description="The alerts of this chat with their ids")
    async def alert_list(interaction: discord.Interaction) -> None:
        await send_reply(interaction, await service.alert_list(chat_of(interaction)), ephemeral=True)

    @alert.command(name="remove", description="Remove an alert (ids are shown by /alert list)")
    @app_commands.rename(alert_id="id")
    async def alert_remove(interaction: discord.Interaction, alert_id: app_commands.Range[int, 1]) -> None:
        _require_moderator(interaction)
        await send_reply(interaction, await service.alert_remove(chat_of(interaction), str(alert_id)))

    @alert.command(name="pause", description="Pause one alert, or all without an id")
    @app_commands.rename(alert_id="id")
    async def alert_pause(interaction: discord.Interaction, alert_id: app_commands.Range[int, 1] | None = None) -> None:
        _require_moderator(interaction)
        await send_reply(interaction, await service.alert_pause(chat_of(interaction), str(alert_id or "")))

    @alert.command(name="resume", description="Resume one alert, or all without an id")
    @app_commands.rename(alert_id="id")
    async def alert_resume(
        interaction: discord.Interaction, alert_id: app_commands.Range[int, 1] | None = None
    ) -> None:
        _require_moderator(interaction)
        await send_reply(interaction, await service.alert_resume(chat_of(interaction), str(alert_id or "")))

    tree.add_command(alert)

    route = app_commands.Group(
        name="alerts-channel", description="Where this server's liqmap alerts are posted", guild_only=True
    )

    @route.command(name="set", description="Post this server's alerts in a channel (needs Manage Channels)")
    @app_commands.describe(channel="the channel (default: this one)")
    @app_commands.checks.has_permissions(manage_channels=True)
    async def route_set(interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            raise app_commands.NoPrivateMessage()
        target = channel.id if channel is not None else interaction.channel_id
        await bot.routes.set(interaction.guild_id, target)
        await service.register(chat_of(interaction))  # re-enables a server whose old channel was deleted
        await answer(interaction, f"This server's liqmap alerts now go to <#{target}>.")

    @route.command(name="clear", description="Stop posting this server's alerts (needs Manage Channels)")
    @app_commands.checks.has_permissions(manage_channels=True)
    async def route_clear(interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if await bot.routes.clear(interaction.guild_id):
            text = "This server's alerts are off (its alerts are kept); turn them on again with /alerts-channel set."
        else:
            text = "This server has no alerts channel; set one with /alerts-channel set."
        await answer(interaction, text)

    tree.add_command(route)
