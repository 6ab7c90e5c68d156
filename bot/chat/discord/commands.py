"""The slash commands: /liqmap, /levels, /alert add|list|remove|pause|resume, /alerts-channel set|clear, /status.

Each command calls ``ChatService`` and renders its ``Reply``; image commands ``defer()`` first so the 3-second
interaction deadline never fails. Invalid input gets an ephemeral one-liner with the correct form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

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

# (interaction, typed text) -> up to 25 choices
Autocomplete = Callable[[discord.Interaction, str], Coroutine[Any, Any, list[Choice[str]]]]


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


def _alert_words(
    symbol: str, proximity: str, minimum: str, side: Choice[str] | None, window: Choice[str] | None, cooldown: str
) -> str:
    """The slash-command options of /alert add|test as the chat spec ``SYMBOL PROXIMITY min M side S ...``."""
    words = [symbol, proximity]
    named = (("min", minimum), ("side", _value(side)), ("window", _value(window)), ("cooldown", cooldown))
    for key, value in named:
        if value.strip():
            words += [key, value]
    return " ".join(w for w in words if w.strip())


def _symbol_autocomplete(bot: LiqmapBot) -> Autocomplete:
    """The symbol autocomplete: the configured symbols (as displayed) plus ``EXTRA_SYMBOLS``, at most 25."""
    offered = tuple(dict.fromkeys([*(display_symbol(s) for s in bot.settings.symbols), *EXTRA_SYMBOLS]))

    async def symbol_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        typed = current.strip().upper()
        return [Choice(name=s, value=s) for s in offered if typed in s.upper()][:25]

    return symbol_autocomplete


def _register_map_commands(bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add /liqmap (the heatmap or map image) and /levels (the clusters as text) to ``bot.tree``."""
    service = bot.service
    tree = bot.tree

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


def _register_status_command(bot: LiqmapBot) -> None:
    """Add /status (data freshness, next run, active alerts; in a server also its alerts channel) to ``bot.tree``."""
    service = bot.service

    @bot.tree.command(name="status", description="Data freshness, the next run and your active alerts")
    async def status(interaction: discord.Interaction) -> None:
        reply = await service.status(chat_of(interaction))
        if not reply.error and interaction.guild_id is not None:
            channel = await bot.routes.channel_for(interaction.guild_id)
            where = f"<#{channel}>" if channel else "none (set one with /alerts-channel set)"
            reply = Reply(f"{reply.text}\nAlerts channel: {where}")
        await send_reply(interaction, reply, ephemeral=True)


async def _alerts_channel_note(bot: LiqmapBot, interaction: discord.Interaction) -> str:
    """After /alert add in a server: where its alerts go ("" in DMs). A server without an alerts channel gets
    the channel of this interaction as its alerts channel."""
    if interaction.guild_id is None:
        return ""
    channel = await bot.routes.channel_for(interaction.guild_id)
    if channel is None and interaction.channel_id is not None:
        await bot.routes.set(interaction.guild_id, interaction.channel_id)
        return (
            f"\nThis server's alerts will be posted in <#{interaction.channel_id}>; "
            "a moderator can change that with /alerts-channel set."
        )
    if channel is not None:
        return f"\nThis server's alerts go to <#{channel}>."
    return ""


def _add_alert_add(alert: app_commands.Group, bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add /alert add (create an alert; in a server needs Manage Channels) to the ``alert`` group."""
    service = bot.service

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
        spec = _alert_words(symbol, proximity, minimum, side, window, cooldown)
        reply = await service.alert_add(chat_of(interaction), spec)
        if reply.error:
            await answer(interaction, f"{reply.text}\n{ADD_EXAMPLE}", ephemeral=True)
            return
        await answer(interaction, reply.text + await _alerts_channel_note(bot, interaction))


def _add_alert_test(alert: app_commands.Group, bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add /alert test (how an alert would have done over the last 7 days) to the ``alert`` group."""
    service = bot.service

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
        spec = _alert_words(symbol, proximity, minimum, side, window, cooldown)
        reply = await service.alert_test(chat_of(interaction), spec)
        await send_reply(interaction, reply)


def _add_alert_management(alert: app_commands.Group, bot: LiqmapBot) -> None:
    """Add /alert list, remove, pause and resume (the last three need Manage Channels in a server)."""
    service = bot.service

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


def _register_alert_commands(bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add the /alert group (add, test, list, remove, pause, resume) to ``bot.tree``."""
    alert = app_commands.Group(name="alert", description="Liquidation-cluster alerts (DM: yours; server: the server's)")
    _add_alert_add(alert, bot, symbol_autocomplete)
    _add_alert_test(alert, bot, symbol_autocomplete)
    _add_alert_management(alert, bot)
    bot.tree.add_command(alert)


def _register_channel_commands(bot: LiqmapBot) -> None:
    """Add the server-only /alerts-channel group (set, clear; both need Manage Channels) to ``bot.tree``."""
    service = bot.service
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

    bot.tree.add_command(route)


def register(bot: LiqmapBot) -> None:
    """Add every liqmap command to ``bot.tree``: map commands, /status, the /alert and /alerts-channel groups."""
    symbol_autocomplete = _symbol_autocomplete(bot)
    _register_map_commands(bot, symbol_autocomplete)
    _register_status_command(bot)
    _register_alert_commands(bot, symbol_autocomplete)
    _register_channel_commands(bot)
