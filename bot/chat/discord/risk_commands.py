"""The position slash commands: /risk (a position's liquidation price and risk, with the marked map image) and
/alert position (an alert near that liquidation price). Each calls ``ChatService`` and renders its ``Reply``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice

from bot.chat.discord.commands import Autocomplete, _alerts_channel_note, _require_moderator, _symbol_autocomplete
from bot.chat.discord.replies import answer, chat_of, send_reply
from bot.chat.limits import try_again_text
from bot.chat.risk import precheck

if TYPE_CHECKING:
    from bot.chat.discord.bot import LiqmapBot

POSITION_CHOICES = [Choice(name=s, value=s) for s in ("long", "short")]
RISK_EXCHANGES = [Choice(name=e, value=e) for e in ("binanceusdm", "binancecoinm")]


def _position_words(side: Choice[str], entry: str, leverage: str, size: str, symbol: str,
                    exchange: Choice[str] | None, *extra: str) -> str:
    """The slash-command options of /risk and /alert position as the chat spec ``SIDE ENTRY LEVERAGE ...``."""
    venue = exchange.value if exchange is not None else ""
    words = [side.value, entry, leverage, *(["size", size] if size.strip() else []), symbol, venue, *extra]
    return " ".join(w for w in words if w.strip())


def _register_risk_command(bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add /risk (a position's liquidation price, distance, clusters on the way, 24h chance, marked map image)."""
    service = bot.service

    @bot.tree.command(name="risk", description="Your position's liquidation price and risk (isolated margin)")
    @app_commands.describe(side="long or short", entry="entry price, e.g. 62000", leverage="e.g. 20x",
                           size="notional USD, e.g. 10k (default $10k)", symbol="e.g. BTC (default) or BTCUSD",
                           exchange="whose formula and tiers (default binanceusdm)")
    @app_commands.choices(side=POSITION_CHOICES, exchange=RISK_EXCHANGES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def risk(interaction: discord.Interaction, side: Choice[str], entry: str, leverage: str, size: str = "",
                   symbol: str = "", exchange: Choice[str] | None = None) -> None:
        wait = bot.user_images.wait_s(interaction.user.id)
        if wait:
            await answer(interaction, try_again_text(wait), ephemeral=True)
            return
        args = _position_words(side, entry, leverage, size, symbol, exchange)
        mistake = precheck(args)
        if mistake:  # answered privately, before the (public) defer
            await answer(interaction, mistake, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        await send_reply(interaction, await service.risk(chat_of(interaction), args))


def _add_alert_position(alert: app_commands.Group, bot: LiqmapBot, symbol_autocomplete: Autocomplete) -> None:
    """Add /alert position (alert near a position's liquidation price; in a server needs Manage Channels)."""
    service = bot.service

    @alert.command(name="position", description="Alert when price nears your position's liquidation price")
    @app_commands.describe(side="long or short", entry="entry price, e.g. 62000", leverage="e.g. 20x",
                           size="notional USD, e.g. 10k (default $10k)", within="distance, e.g. 2% (default 2%)",
                           symbol="e.g. BTC (default)", exchange="whose formula and tiers (default binanceusdm)",
                           cooldown="quiet time between alerts, e.g. 30m (default)")
    @app_commands.choices(side=POSITION_CHOICES, exchange=RISK_EXCHANGES)
    @app_commands.autocomplete(symbol=symbol_autocomplete)
    async def alert_position(interaction: discord.Interaction, side: Choice[str], entry: str, leverage: str,
                             size: str = "", within: str = "", symbol: str = "",
                             exchange: Choice[str] | None = None, cooldown: str = "") -> None:
        _require_moderator(interaction)
        pct = within.strip() + ("%" if within.strip() and not within.strip().endswith("%") else "")
        args = _position_words(side, entry, leverage, size, symbol, exchange, pct,
                               *(["cooldown", cooldown] if cooldown.strip() else []))
        mistake = precheck(args, alert=True)
        if mistake:
            await answer(interaction, mistake, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        reply = await service.alert_position(chat_of(interaction), args)
        if reply.error:
            await answer(interaction, reply.text, ephemeral=True)
            return
        await answer(interaction, reply.text + await _alerts_channel_note(bot, interaction))


def register_risk(bot: LiqmapBot) -> None:
    """Add /risk to ``bot.tree`` and /alert position to its ``alert`` group (``commands.register`` runs first)."""
    symbol_autocomplete = _symbol_autocomplete(bot)
    _register_risk_command(bot, symbol_autocomplete)
    alert = bot.tree.get_command("alert")
    if not isinstance(alert, app_commands.Group):
        raise RuntimeError("register_risk needs the /alert group: call commands.register first")
    _add_alert_position(alert, bot, symbol_autocomplete)
