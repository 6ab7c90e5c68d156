"""Alert delivery through discord.py's real HTTPClient against the local Discord REST stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from discord.gateway import DiscordWebSocket

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.messages import approach_text
from bot.alerts.notifier import ChatBlocked, TransientSendError
from bot.chat.discord import DiscordRunner
from bot.chat.discord.embeds import LONG_COLOUR, SHORT_COLOUR
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.discord.routes import RouteBook
from bot.chat.service import ChatService
from bot.config import Settings
from bot.storage import chats, outbox
from bot.storage.db import Database
from tests.alerts.helpers import Clock, add_sub, make_job
from tests.standins.discord_rest import APP_ID, DiscordRest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CHANNEL = 555_000_000_000_000_001
GUILD = 444_000_000_000_000_001
ORIGINAL_BASE = discord.http.Route.BASE
ORIGINAL_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY


def alert(side: str) -> str:
    return approach_text(
        symbol="BTC/USDT:USDT",
        window="24h",
        side=side,
        low=60_000,
        high=60_800,
        usd=193e6,
        price=60_919,
        distance_pct=0.15,
        score=71,
        reasons=["18% of pending longs"],
        synthetic=True,
    )


@pytest.fixture
async def rest() -> AsyncIterator[DiscordRest]:
    server = DiscordRest()
    await server.start()
    try:
        with server.pointed():
            yield server
        assert discord.http.Route.BASE == ORIGINAL_BASE  # restored for every other test
        assert DiscordWebSocket.DEFAULT_GATEWAY == ORIGINAL_GATEWAY
    finally:
        await server.close()


@pytest.fixture
async def client(rest: DiscordRest) -> AsyncIterator[discord.Client]:
    """A discord.py client logged in against the stand-in (REST only, no gateway)."""
    bot = discord.Client(intents=discord.Intents.none(), max_ratelimit_timeout=60.0)
    await bot.login("test-token")
    try:
        yield bot
    finally:
        await bot.close()


def notifier(client: discord.Client, db: Database) -> DiscordNotifier:
    return DiscordNotifier(client, RouteBook(db))


async def test_multipart_upload_with_embed_coloured_by_side(
    rest: DiscordRest, client: discord.Client, db: Database
) -> None:
    message_id = await notifier(client, db).send(str(CHANNEL), alert("long"), PNG, side="long")
    [call] = rest.sent(CHANNEL)
    assert call.headers["Authorization"] == "Bot test-token"
    [upload] = call.files
    assert upload.field == "files[0]" and upload.filename == "liqmap.png" and upload.data == PNG
    [embed] = call.json["embeds"]
    assert embed["color"] == LONG_COLOUR.value and embed["image"]["url"] == "attachment://liqmap.png"
    assert "long liquidation cluster below" in embed["title"] and "Squeeze risk 71/100" in embed["description"]
    assert call.json["attachments"][0]["filename"] == "liqmap.png"
    assert message_id.isdigit()


async def test_text_only_alert_is_json_and_green_for_shorts(
    rest: DiscordRest, client: discord.Client, db: Database
) -> None:
    await notifier(client, db).send(str(CHANNEL), alert("short"), None, side="short")
    [call] = rest.sent(CHANNEL)
    assert call.files == [] and call.headers["Content-Type"].startswith("application/json")
    assert call.json["embeds"][0]["color"] == SHORT_COLOUR.value and "image" not in call.json["embeds"][0]


async def test_429_with_via_is_waited_and_retried_by_discord_py(
    rest: DiscordRest, client: discord.Client, db: Database
) -> None:
    rest.fail("POST", r"/channels/\d+/messages", 429, retry_after=0.05)
    message_id = await notifier(client, db).send(str(CHANNEL), alert("long"), PNG, side="long")
    posts = [c for c in rest.calls if c.path == f"/channels/{CHANNEL}/messages"]
    assert [c.status for c in posts] == [429, 200] and message_id
    assert posts[1].files[0].data == PNG  # the file was re-sent in full on the retry


async def test_429_without_via_is_not_retried_blindly(rest: DiscordRest, client: discord.Client, db: Database) -> None:
    rest.fail("POST", r"/channels/\d+/messages", 429, via=False)
    with pytest.raises(TransientSendError):
        await notifier(client, db).send(str(CHANNEL), alert("long"), PNG, side="long")
    assert [c.status for c in rest.calls if c.method == "POST"] == [429]


async def test_long_rate_limit_is_handed_back_to_the_dispatcher(
    rest: DiscordRest, client: discord.Client, db: Database
) -> None:
    rest.fail("POST", r"/channels/\d+/messages", 429, retry_after=600.0)
    with pytest.raises(TransientSendError) as err:
        await notifier(client, db).send(str(CHANNEL), alert("long"), None, side="long")
    assert err.value.retry_after_s == 600.0


async def test_server_error_is_transient(rest: DiscordRest, client: discord.Client, db: Database) -> None:
    rest.fail("POST", r"/channels/\d+/messages", 503)
    with pytest.raises(TransientSendError, match="503"):
        await notifier(client, db).send(str(CHANNEL), alert("long"), None, side="long")


async def test_dm_opens_the_channel_once(rest: DiscordRest, client: discord.Client, db: Database) -> None:
    n = notifier(client, db)
    await n.send("user:42", alert("long"), PNG, side="long")
    await n.send("user:42", alert("short"), None, side="short")
    opened = [c for c in rest.calls if c.path == "/users/@me/channels"]
    assert len(opened) == 1 and opened[0].json == {"recipient_id": 42}
    assert len(rest.sent(43)) == 2


async def route_guild_alert(db: Database, clock: Clock) -> int:
    """A server with its alerts channel set and one subscription; one tick queues one alert. Returns its chat id."""
    await RouteBook(db).set(GUILD, CHANNEL)
    sub = add_sub(db, f"guild:{GUILD}", platform="discord")
    assert (await make_job(db, clock).tick()).alerts_queued == 1
    return sub.chat_id


async def test_tick_alert_reaches_the_configured_channel(
    rest: DiscordRest, client: discord.Client, db: Database, service: ChatService
) -> None:
    clock = Clock()
    await route_guild_alert(db, clock)
    dispatcher = Dispatcher(db, {"discord": notifier(client, db)}, "w", clock=clock, image_for=service.alert_png)
    assert (await dispatcher.run_once()).sent == 1
    [call] = rest.sent(CHANNEL)
    assert call.files[0].data.startswith(b"\x89PNG") and call.json["embeds"][0]["color"] == LONG_COLOUR.value
    with db.session() as s:
        [row] = outbox.list_alerts(s)
    assert row.state == "sent" and row.message_id is not None and row.message_id.isdigit()


@pytest.mark.parametrize("status", [403, 404])
async def test_forbidden_or_missing_channel_disables_the_route(
    rest: DiscordRest, client: discord.Client, db: Database, status: int
) -> None:
    clock = Clock()
    chat_id = await route_guild_alert(db, clock)
    rest.fail("POST", rf"/channels/{CHANNEL}/messages", status)
    with pytest.raises(ChatBlocked, match=str(status)):
        await notifier(client, db).send(f"guild:{GUILD}", alert("long"), None, side="long")
    rest.fail("POST", rf"/channels/{CHANNEL}/messages", status)
    report = await Dispatcher(db, {"discord": notifier(client, db)}, "w", clock=clock).run_once()
    assert report.blocked == 1 and report.sent == 0
    with db.session() as s:
        chat = chats.get_chat(s, chat_id)
    assert chat is not None and not chat.active and str(status) in (chat.blocked_reason or "")
    assert rest.sent() == []


async def test_server_without_alerts_channel_is_blocked(client: discord.Client, db: Database) -> None:
    with pytest.raises(ChatBlocked, match="alerts-channel set"):
        await notifier(client, db).send(f"guild:{GUILD}", alert("long"), None, side="long")


async def test_not_logged_in_is_transient(db: Database) -> None:
    idle = discord.Client(intents=discord.Intents.none())
    with pytest.raises(TransientSendError, match="not logged in"):
        await DiscordNotifier(idle, RouteBook(db)).send(str(CHANNEL), alert("long"), None, side="long")


@pytest.mark.parametrize("dev_guild", [None, 777])
async def test_runner_syncs_in_setup_hook_and_stops(
    rest: DiscordRest, service: ChatService, dev_guild: int | None
) -> None:
    settings = Settings(source="sim", discord_token="test-token", discord_dev_guild=dev_guild, _env_file=None)
    runner = DiscordRunner(settings, service)
    await runner.start()
    assert await runner.wait_logged_in(10.0)
    for _ in range(500):  # until the client logged in, synced and opened the (silent) gateway
        if rest.gateway_connections:
            break
        await asyncio.sleep(0.01)
    assert rest.gateway_connections == 1
    assert runner.running
    syncs = [c.path for c in rest.calls if c.method == "PUT"]
    want = f"/applications/{APP_ID}/guilds/{dev_guild}/commands" if dev_guild else f"/applications/{APP_ID}/commands"
    assert syncs == [want]
    [sync] = [c for c in rest.calls if c.method == "PUT"]
    assert {"liqmap", "levels", "alert", "alerts-channel", "status"} <= {cmd["name"] for cmd in sync.json}
    await runner.stop()
    assert not runner.running
