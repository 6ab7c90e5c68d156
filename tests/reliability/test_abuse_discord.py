"""Abuse through the Discord bot (discord.py against simcord's simulated Discord): the alerts channel of a server
and a server's alerts need Manage Channels (members cannot add, pause or remove them), and ids of another chat's
alerts change nothing."""

from __future__ import annotations

import discord
import simcord
from discord import app_commands

from bot.chat.discord.bot import LiqmapBot
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from bot.storage.records import SubscriptionRec
from tests.discord.conftest import db, service, simcord_bot  # noqa: F401


def subs_of(database: Database, external_id: str) -> list[SubscriptionRec]:
    with database.session() as s:
        chat = chats.find_chat(s, "discord", external_id)
        return subscriptions.list_subscriptions(s, chat.id) if chat is not None else []


def guild_with_mod(env: simcord.Env) -> tuple[simcord.GuildHandle, simcord.ChannelHandle, simcord.MemberActor,
                                                simcord.MemberActor]:
    guild = env.create_guild(name="Traders")
    channel = guild.create_text_channel("general")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_channels=True))
    return guild, channel, guild.add_member(env.create_user("mod"), roles=[mods]), guild.add_member(
        env.create_user("eve"))


async def test_alerts_channel_cannot_be_moved_by_a_member(simcord_env: simcord.Env, db: Database) -> None:  # noqa: F811
    guild, channel, mod, eve = guild_with_mod(simcord_env)
    await mod.slash(channel, "alerts-channel set")
    elsewhere = guild.create_text_channel("eve-only")
    for command, kw in (("alerts-channel set", {"channel": elsewhere}), ("alerts-channel clear", {})):
        denied = await eve.slash(channel, command, **kw)
        assert denied.ephemeral and denied.response is not None and "Manage Channels" in denied.response.content
    assert sum(isinstance(e, app_commands.MissingPermissions) for e in simcord_env.errors) == 2
    bot = simcord_env.bot
    assert isinstance(bot, LiqmapBot) and await bot.routes.channel_for(guild.id) == channel.id


async def test_guessed_ids_of_a_server_change_nothing_from_a_dm(simcord_env: simcord.Env, db: Database) -> None:  # noqa: F811
    guild, channel, mod, _ = guild_with_mod(simcord_env)
    await mod.slash(channel, "alert add", symbol="BTC", proximity="2%")
    [sub] = subs_of(db, f"guild:{guild.id}")
    mallory = simcord_env.create_user("mallory")
    for command in ("alert remove", "alert pause", "alert resume"):
        result = await mallory.slash(command, id=sub.id)
        assert result.response is not None and f"no alert #{sub.id}" in result.response.content, command
    listed = await mallory.slash("alert list")
    assert listed.response is not None and f"#{sub.id}" not in listed.response.content
    assert subs_of(db, f"guild:{guild.id}") == [sub]


async def test_a_member_without_manage_channels_cannot_pause_server_alerts(
    simcord_env: simcord.Env, db: Database  # noqa: F811
) -> None:
    guild, channel, mod, eve = guild_with_mod(simcord_env)
    await mod.slash(channel, "alert add", symbol="BTC", proximity="2%")
    [sub] = subs_of(db, f"guild:{guild.id}")
    for command, options in (("alert pause", {}), ("alert remove", {"id": sub.id}), ("alert add", {"symbol": "BTC"})):
        denied = await eve.slash(channel, command, **options)
        assert denied.ephemeral and denied.response is not None and "Manage Channels" in denied.response.content
    assert sum(isinstance(e, app_commands.MissingPermissions) for e in simcord_env.errors) == 3
    assert subs_of(db, f"guild:{guild.id}") == [sub]


async def test_image_requests_are_limited_per_user(simcord_env: simcord.Env) -> None:
    _guild, channel, _mod, eve = guild_with_mod(simcord_env)
    results = [await eve.slash(channel, "liqmap", symbol="BTC") for _ in range(7)]
    assert all(r.response is not None for r in results)
    limited = results[-1]
    assert limited.ephemeral and "try again in" in (limited.response.content if limited.response else "")
    assert not any(r.ephemeral for r in results[:6])
