"""Turning interactions into chat identities and service ``Reply`` objects into Discord responses."""

from __future__ import annotations

import discord

from bot.chat.discord.embeds import CONTENT_LIMIT, clip, map_embed, map_view, png_file
from bot.chat.discord.routes import guild_chat, user_chat
from bot.chat.reply import ChatRef, Reply


def chat_of(interaction: discord.Interaction) -> ChatRef:
    """A server's chat in a guild channel, the user's own chat in DMs."""
    if interaction.guild_id is not None:
        guild = interaction.guild
        return guild_chat(interaction.guild_id, guild.name if guild is not None else "")
    return user_chat(interaction.user.id, interaction.user.name)


async def answer(interaction: discord.Interaction, text: str, *, ephemeral: bool = False) -> None:
    """Send ``text`` as the response, or as a follow-up when the interaction was already answered or deferred."""
    text = clip(text, CONTENT_LIMIT)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=ephemeral)
    else:
        await interaction.response.send_message(text, ephemeral=ephemeral)


async def send_reply(interaction: discord.Interaction, reply: Reply, *, ephemeral: bool = False) -> None:
    """A service ``Reply``: errors ephemeral; an image as an embed with the PNG attached and the map buttons."""
    if reply.error:
        await answer(interaction, reply.text, ephemeral=True)
        return
    if reply.png is None:
        await answer(interaction, reply.text, ephemeral=ephemeral)
        return
    view = map_view(reply) or discord.utils.MISSING
    embed, file = map_embed(reply), png_file(reply.png)
    if interaction.response.is_done():
        await interaction.followup.send(embed=embed, file=file, view=view, ephemeral=ephemeral)
    else:
        await interaction.response.send_message(embed=embed, file=file, view=view, ephemeral=ephemeral)
