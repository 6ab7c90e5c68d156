"""/risk and /alert position as a Discord user: the real bot and discord.py against simcord's simulated Discord."""

from __future__ import annotations

import discord
import pytest
import simcord

from bot.chat.discord.bot import LiqmapBot
from bot.chat.service import ChatService
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.render import RenderCache
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock, settings

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def service(db: Database) -> ChatService:
    engine = MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW))
    return ChatService(db, engine, settings(), render_cache=RenderCache(), clock=Clock())


@pytest.fixture
def simcord_bot(service: ChatService) -> LiqmapBot:
    """The real liqmap bot for simcord's ``simcord_env`` fixture."""
    return LiqmapBot(service, service.config)


def _server(env: simcord.Env) -> tuple[simcord.GuildHandle, simcord.ChannelHandle, simcord.MemberActor]:
    guild = env.create_guild(name="Traders")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_channels=True))
    return guild, guild.create_text_channel("general"), guild.add_member(env.create_user("mod"), roles=[mods])


async def test_risk_slash_command_answers_with_embed_and_marked_png(simcord_env: simcord.Env) -> None:
    _, channel, mod = _server(simcord_env)
    assert {"risk", "alert position"} <= set(mod.available_commands(channel))
    result = await mod.slash(channel, "risk", side="long", entry="62000", leverage="20x")
    message = result.response or result.followups[0]
    embed = message.embeds[0]
    assert embed.title is not None and embed.title.startswith("BTCUSDT long · entry 62,000 · 20x · $10k notional")
    assert "Liquidation price: 59,136.55" in (embed.description or "")
    assert (await message.attachments[0].read()).startswith(PNG)


async def test_risk_bad_input_is_one_ephemeral_line(simcord_env: simcord.Env) -> None:
    _, channel, mod = _server(simcord_env)
    result = await mod.slash(channel, "risk", side="short", entry="62000", leverage="300x")
    text = (result.response or result.followups[0]).content
    assert result.ephemeral or any(f.ephemeral for f in [result.response, *result.followups] if f is not None)
    assert "300x" in text and "\n" not in text


async def test_alert_position_is_added_and_listed(simcord_env: simcord.Env, db: Database) -> None:
    guild, channel, mod = _server(simcord_env)
    result = await mod.slash(channel, "alert position", side="short", entry="70000", leverage="25x", size="50k",
                             within="1.5")
    text = (result.response or result.followups[0]).content
    assert text.startswith("Position alert #") and "short 70,000 25x $50k on binanceusdm" in text
    listed = await mod.slash(channel, "alert list")
    assert "position BTCUSDT short" in (listed.response or listed.followups[0]).content
    with db.session() as s:
        chat = chats.find_chat(s, "discord", f"guild:{guild.id}")
        subs = subscriptions.list_subscriptions(s, chat.id) if chat is not None else []
    assert [(x.kind, x.sides, x.proximity_pct) for x in subs] == [("position", "short", 1.5)]
