"""Slash commands end to end: the real bot and discord.py against simcord's simulated Discord (no network)."""

from __future__ import annotations

import discord
import pytest
import simcord
from discord import app_commands

from bot.alerts.dispatcher import Dispatcher
from bot.chat.discord.bot import LiqmapBot
from bot.chat.discord.embeds import LONG_COLOUR
from bot.chat.discord.notifier import DiscordNotifier
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.alerts.helpers import Clock, make_job

PNG = b"\x89PNG\r\n\x1a\n"


def server(env: simcord.Env) -> tuple[simcord.GuildHandle, simcord.ChannelHandle, simcord.MemberActor]:
    guild = env.create_guild(name="Traders")
    channel = guild.create_text_channel("general")
    return guild, channel, guild.add_member(env.create_user("alice"))


def moderator(env: simcord.Env, guild: simcord.GuildHandle) -> simcord.MemberActor:
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_channels=True))
    return guild.add_member(env.create_user("mod"), roles=[mods])


def subs_of(db: Database, external_id: str) -> list[subscriptions.SubscriptionRec]:
    with db.session() as s:
        chat = chats.find_chat(s, "discord", external_id)
        return subscriptions.list_subscriptions(s, chat.id) if chat is not None else []


async def test_commands_are_synced_in_setup_hook(simcord_env: simcord.Env) -> None:
    _, channel, alice = server(simcord_env)
    syncs = [r for r in simcord_env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(syncs) == 1 and "/guilds/" not in syncs[0].path  # global sync without a dev guild
    offered = set(alice.available_commands(channel))
    assert {"liqmap", "levels", "status", "alert add", "alert remove", "alerts-channel set"} <= offered


async def test_liqmap_defers_then_answers_with_embed_and_png(simcord_env: simcord.Env) -> None:
    _, channel, alice = server(simcord_env)
    result = await alice.slash(channel, "liqmap", symbol="BTC", window="24h", kind="heatmap")
    callbacks = [r.json for r in simcord_env.http_requests if r.path.endswith("/callback")]
    assert callbacks[0] == {"type": 5}  # deferred first: the 3-second deadline cannot fail
    message = result.response or result.followups[0]
    embed = message.embeds[0]
    assert embed.title is not None and embed.title.startswith("BTCUSDT 24h liquidation map")
    assert "Below (longs)" in (embed.description or "") and "SYNTHETIC" in (embed.description or "")
    assert embed.image.url == "attachment://liqmap.png"
    fields = {f.name: f.value or "" for f in embed.fields}  # the context, as fields (issue: beside the map)
    assert fields["Open interest"].startswith("$") and "24h)" in fields["Open interest"]
    assert "(8h" in fields["Funding"] and "%/yr" in fields["Funding"]
    attachment = message.attachments[0]
    assert attachment.filename == "liqmap.png"
    assert (await attachment.read()).startswith(PNG)
    labels = [c["label"] for row in message.components for c in row["components"]]
    assert "• 24h" in labels and "↻ refresh" in labels


async def test_map_button_redraws_the_map(simcord_env: simcord.Env) -> None:
    _, channel, alice = server(simcord_env)
    first = await alice.slash(channel, "liqmap", symbol="BTC")
    message = (first.response or first.followups[0]).message
    await alice.click(message, label="7d")
    redrawn = channel.last_message
    assert redrawn is not None and redrawn.embeds[0].title is not None
    assert redrawn.embeds[0].title.startswith("BTCUSDT 7d liquidation map")


async def test_symbol_autocomplete_and_bad_symbol(simcord_env: simcord.Env) -> None:
    _, channel, alice = server(simcord_env)
    choices = await alice.autocomplete(channel, "liqmap", "symbol", "usd")
    assert [c["value"] for c in choices] == ["BTCUSDT", "BTCUSD"]
    result = await alice.slash(channel, "liqmap", symbol="DOGE/EUR")
    assert result.ephemeral and result.response is not None and "unknown symbol" in result.response.content


async def test_levels_is_a_text_table(simcord_env: simcord.Env) -> None:
    _, channel, alice = server(simcord_env)
    result = await alice.slash(channel, "levels", symbol="BTCUSDT")
    message = result.response or result.followups[0]
    assert message.content.startswith("```") and "Nearest:" in message.content and "long" in message.content


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({"proximity": "1.5 lots"}, "I don't understand 'lots'"),
        ({"minimum": "huge"}, "like 50M, 2.5B, 750k"),
        ({"cooldown": "forever"}, "cooldown 30m"),
    ],
)
async def test_alert_add_invalid_is_ephemeral_and_friendly(
    simcord_env: simcord.Env, db: Database, options: dict[str, str], hint: str
) -> None:
    guild, channel, _ = server(simcord_env)
    mod = moderator(simcord_env, guild)
    slash_options = {("min" if k == "minimum" else k): v for k, v in options.items()}
    result = await mod.slash(channel, "alert add", symbol="BTC", **slash_options)
    assert result.ephemeral and result.response is not None
    assert hint in result.response.content and "Example: /alert add symbol:BTC" in result.response.content
    assert subs_of(db, f"guild:{guild.id}") == []


async def test_alert_commands_in_a_server(simcord_env: simcord.Env, db: Database) -> None:
    guild, channel, member = server(simcord_env)
    denied = await member.slash(channel, "alert add", symbol="BTC")  # a server's alerts belong to its moderators
    assert denied.ephemeral and denied.response is not None and "Manage Channels" in denied.response.content
    assert any(isinstance(e, app_commands.MissingPermissions) for e in simcord_env.errors)
    assert subs_of(db, f"guild:{guild.id}") == []
    alice = moderator(simcord_env, guild)
    added = await alice.slash(channel, "alert add", symbol="BTC", proximity="1.5%", side="long", **{"min": "50M"})
    assert added.response is not None and not added.ephemeral
    assert "BTCUSDT 24h within 1.50% · min $50M · long" in added.response.content
    assert f"posted in <#{channel.id}>" in added.response.content  # the first alert routes to this channel
    [sub] = subs_of(db, f"guild:{guild.id}")
    listed = await alice.slash(channel, "alert list")
    assert listed.ephemeral and listed.response is not None and f"#{sub.id} BTCUSDT" in listed.response.content
    paused = await alice.slash(channel, "alert pause", id=sub.id)
    assert paused.response is not None and paused.response.content == f"Alert #{sub.id} paused."
    assert not subs_of(db, f"guild:{guild.id}")[0].enabled
    resumed = await alice.slash(channel, "alert resume")
    assert resumed.response is not None and resumed.response.content == "All 1 alerts resumed."
    removed = await alice.slash(channel, "alert remove", id=sub.id)
    assert removed.response is not None and removed.response.content == f"Alert #{sub.id} removed."
    again = await alice.slash(channel, "alert remove", id=sub.id)
    assert again.ephemeral and again.response is not None and "no alert" in again.response.content
    assert subs_of(db, f"guild:{guild.id}") == []


async def test_alert_add_in_dm_is_personal(simcord_env: simcord.Env, db: Database) -> None:
    bob = simcord_env.create_user("bob")
    result = await bob.slash("alert add", symbol="BTCUSD", proximity="0.5%")
    assert result.response is not None and "BTCUSD 24h within 0.50%" in result.response.content
    assert "posted in" not in result.response.content
    assert len(subs_of(db, f"user:{bob.id}")) == 1


async def test_alerts_channel_needs_manage_channels(simcord_env: simcord.Env, db: Database) -> None:
    guild, channel, alice = server(simcord_env)
    denied = await alice.slash(channel, "alerts-channel set")
    assert denied.ephemeral and denied.response is not None
    assert "Manage Channels permission" in denied.response.content
    assert any(isinstance(e, app_commands.MissingPermissions) for e in simcord_env.errors)
    bot = simcord_env.bot
    assert isinstance(bot, LiqmapBot) and await bot.routes.channel_for(guild.id) is None
    alerts = guild.create_text_channel("alerts")
    mod = moderator(simcord_env, guild)
    done = await mod.slash(channel, "alerts-channel set", channel=alerts)
    assert done.response is not None and f"<#{alerts.id}>" in done.response.content
    assert await bot.routes.channel_for(guild.id) == alerts.id
    status = await alice.slash(channel, "status")
    assert status.ephemeral and status.response is not None
    assert f"Alerts channel: <#{alerts.id}>" in status.response.content and "Your active alerts: 0" in (
        status.response.content
    )
    cleared = await mod.slash(channel, "alerts-channel clear")
    assert cleared.response is not None and "alerts are off" in cleared.response.content
    assert await bot.routes.channel_for(guild.id) is None


async def test_alerts_channel_is_server_only(simcord_env: simcord.Env) -> None:
    bob = simcord_env.create_user("bob")
    assert "alerts-channel set" not in bob.available_commands()  # guild_only: not offered in DMs


async def test_scheduler_tick_alert_reaches_the_alerts_channel(simcord_env: simcord.Env, db: Database) -> None:
    guild, channel, _ = server(simcord_env)
    alerts = guild.create_text_channel("alerts")
    mod = moderator(simcord_env, guild)
    await mod.slash(channel, "alerts-channel set", channel=alerts)
    await mod.slash(channel, "alert add", symbol="BTC", proximity="1%", side="long", cooldown="1m")
    bot = simcord_env.bot
    assert isinstance(bot, LiqmapBot)
    clock = Clock()
    assert (await make_job(db, clock).tick()).alerts_queued == 1
    notifier = DiscordNotifier(bot, bot.routes)
    report = await Dispatcher(db, {"discord": notifier}, "w", clock=clock, image_for=bot.service.alert_png).run_once()
    assert report.sent == 1
    message = alerts.last_message
    assert message is not None and message.embeds[0].colour == LONG_COLOUR
    assert "long liquidation cluster below" in (message.embeds[0].title or "")
    assert "Squeeze risk" in (message.embeds[0].description or "")
    assert (await message.attachments[0].read()).startswith(PNG)
