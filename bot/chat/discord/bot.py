"""The Discord client: slash-command tree, command sync in ``setup_hook``, replies rendered from ``Reply`` objects.

All business logic lives in ``ChatService``; this module only turns interactions into service calls and
``Reply`` objects into Discord messages (embeds, the PNG, buttons; errors are ephemeral).
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from bot.chat.discord.commands import register
from bot.chat.discord.embeds import MapButton, map_embed, map_view, png_file
from bot.chat.discord.replies import answer, chat_of
from bot.chat.discord.risk_commands import register_risk
from bot.chat.discord.routes import RouteBook
from bot.chat.limits import SlidingWindowLimit, try_again_text
from bot.chat.reply import parse_action
from bot.chat.service import SORRY, ChatService
from bot.config import Settings

log = logging.getLogger(__name__)
MAX_RATELIMIT_WAIT_S = 60.0  # longer waits raise RateLimited (the dispatcher reschedules) instead of blocking
PERMISSION_TEXT = {
    "manage_channels": "You need the Manage Channels permission to change this server's liqmap alerts or where they "
    "are posted. Ask a moderator to run it (your own alerts work in a DM with the bot).",
}


class LiqmapBot(discord.Client):
    """liqmap on Discord. Start it with ``await bot.start(token)`` inside the app's loop (never ``bot.run``)."""

    def __init__(self, service: ChatService, settings: Settings, *, routes: RouteBook | None = None) -> None:
        super().__init__(intents=discord.Intents(guilds=True), max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S)
        self.service = service
        self.settings = settings
        self.routes = routes or RouteBook(service.db)
        self.logged_in = asyncio.Event()  # set once login succeeded (``setup_hook`` runs right after it)
        self.user_images = SlidingWindowLimit(6, 60.0)  # image requests per user (commands and buttons)
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error  # type: ignore[method-assign]
        register(self)
        register_risk(self)

    async def setup_hook(self) -> None:
        """Persistent map buttons, then command sync: to the dev guild when configured (instant), else global."""
        self.logged_in.set()
        self.add_dynamic_items(MapButton)
        guild_id = self.settings.discord_dev_guild
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d slash commands to dev guild %d", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global slash commands (may take up to an hour to appear)", len(synced))

    async def on_ready(self) -> None:
        log.info("Discord connected as %s in %d servers", self.user, len(self.guilds))

    async def on_map_button(self, interaction: discord.Interaction, action: str) -> None:
        """A window/kind/refresh button: redraw the map in place."""
        parsed = parse_action(action)
        if parsed is None:
            return
        symbol, window, kind = parsed
        wait = self.user_images.wait_s(interaction.user.id)
        if wait:
            await interaction.response.send_message(try_again_text(wait), ephemeral=True)
            return
        await interaction.response.defer()
        reply = await self.service.liqmap(chat_of(interaction), symbol, window, kind)
        if reply.error or reply.png is None:
            await interaction.followup.send(reply.text, ephemeral=True)
            return
        view = map_view(reply)
        await interaction.edit_original_response(embed=map_embed(reply), attachments=[png_file(reply.png)], view=view)

    async def on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Missing permissions and DM-only misuse get an ephemeral explanation; anything else an apology."""
        if isinstance(error, app_commands.MissingPermissions):
            text = " ".join(
                PERMISSION_TEXT.get(p, f"You need the {p.replace('_', ' ').title()} permission for this command.")
                for p in error.missing_permissions
            )
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = "This command only works in a server channel."
        else:
            log.error(
                "Discord command %s failed", interaction.command and interaction.command.qualified_name, exc_info=error
            )
            text = SORRY
        try:
            await answer(interaction, text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failed command", exc_info=True)
