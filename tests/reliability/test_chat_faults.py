"""Chat API faults across many alerts through the real notifiers (PTB against the Bot API stand-in, discord.py
against the Discord REST stand-in) and the real Dispatcher. After a mixed sequence of 429 / 403 / 5xx / timeouts the
outbox and what the platforms received must agree: every alert the platform accepted once is ``sent`` with that
message id; nothing is marked sent that was not delivered; nothing is delivered twice; the blocked chat gets nothing;
the timed-out upload (outcome unknown) is delivered once and never resent (documented at-most-once case)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import discord
import pytest

from bot.alerts.dispatcher import Dispatcher
from bot.alerts.job import AlertJob
from bot.alerts.notifier import Notifier
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.discord.routes import RouteBook
from bot.chat.telegram import TelegramNotifier
from bot.engine import MapEngine
from bot.market.source import SimSource
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.alerts.helpers import EXCHANGES, NOW, Clock, settings
from tests.reliability.helpers import alerts, counts, subscribe
from tests.standins.discord_rest import DiscordRest
from tests.standins.telegram_server import BotApiStandin
from tests.telegram.conftest import bot, server, tg_db  # noqa: F401
from tests.telegram.harness import Harness

TG_CHATS = 12
DC_USERS = 6
DC_FIRST = 7_000


@pytest.fixture
async def rest() -> AsyncIterator[DiscordRest]:
    standin = DiscordRest()
    await standin.start()
    try:
        with standin.pointed():
            yield standin
    finally:
        await standin.close()


@pytest.fixture
async def client(rest: DiscordRest) -> AsyncIterator[discord.Client]:
    dc = discord.Client(intents=discord.Intents.none(), max_ratelimit_timeout=60.0)
    await dc.login("test-token")
    try:
        yield dc
    finally:
        await dc.close()


def queue_many(db: Database, clock: Clock) -> None:
    """Telegram chats 100.. and Discord DMs user:7000.. each with one wide subscription; one tick queues one alert
    per chat."""
    subscribe(db, TG_CHATS, first_chat=100, at_ms=NOW)
    with db.session() as s:
        for i in range(DC_USERS):
            chat = chats.upsert_chat(s, "discord", f"user:{DC_FIRST + i}", "private", "dm", at_ms=NOW)
            subscriptions.add_subscription(s, chat.id, symbol="BTC/USDT:USDT", window="24h", proximity_pct=20.0,
                                           cooldown_s=0, at_ms=NOW)


async def drain(dispatcher: Dispatcher, clock: Clock, rounds: int = 12) -> None:
    """Dispatch until nothing is due, moving the clock past every backoff / retry_after (well inside max_age)."""
    for _ in range(rounds):
        await dispatcher.run_once()
        clock.advance(130_000)
    assert (await dispatcher.run_once()).claimed == 0


def tg_deliveries(standin: BotApiStandin) -> Counter[tuple[str, str]]:
    """(chat id, text) of every sendMessage the Bot API stand-in accepted (timeouts included: delivered)."""
    return Counter((str(c.params["chat_id"]), c.params["text"]) for c in standin.calls_of("sendMessage")
                   if c.status == 200)


def dc_deliveries(rest: DiscordRest) -> Counter[tuple[str, str]]:
    """(user:<id>, embed description) of every message the Discord stand-in accepted (DM channel = user id + 1)."""
    out: Counter[tuple[str, str]] = Counter()
    for c in rest.sent():
        channel = int(c.path.split("/")[2])
        embed = (c.json.get("embeds") or [{}])[0]
        out[(f"user:{channel - 1}", str(embed.get("description", "")))] += 1
    return out


async def test_mixed_faults_across_many_alerts_on_both_platforms(
    bot: Harness, rest: DiscordRest, client: discord.Client  # noqa: F811
) -> None:
    db, clock = bot.db, bot.clock
    queue_many(db, clock)
    job = AlertJob(db, MapEngine(SimSource(EXCHANGES, seed=7, now_ms=NOW)), settings(), clock, holder="j")
    assert (await job.tick()).alerts_queued == TG_CHATS + DC_USERS
    tg = bot.server
    tg.fail("sendMessage", "429", retry_after=90)
    tg.fail("sendMessage", "502", times=2)
    tg.fail("sendMessage", "timeout", hang_s=1.0)
    tg.fail("sendMessage", "403", description="Forbidden: bot was blocked by the user")
    tg.fail("sendMessage", "400", description="Bad Request: chat not found")
    tg.fail("sendMessage", "429", retry_after=5)
    rest.fail("POST", r"/channels/\d+/messages", 503, times=2)
    rest.fail("POST", r"/channels/\d+/messages", 429, retry_after=600.0)  # too long: handed to the outbox
    rest.fail("POST", r"/channels/\d+/messages", 403)
    notifiers: dict[str, Notifier] = {
        "telegram": TelegramNotifier(bot.runner.application.bot, read_timeout_s=0.3),
        "discord": DiscordNotifier(client, RouteBook(db)),
    }
    await drain(Dispatcher(db, notifiers, "w1", clock=clock, batch=7), clock)

    rows = alerts(db)
    assert len(rows) == TG_CHATS + DC_USERS and counts(db)["queued"] == counts(db)["sending"] == 0
    with db.session() as s:
        ext = {c.id: c for c in chats.get_chats(s, [a.chat_id for a in rows]).values()}
    delivered = tg_deliveries(tg) + dc_deliveries(rest)
    assert set(delivered.values()) == {1}  # nothing was delivered twice
    tg_ids = {(str(c), str(m)) for (c, m) in tg.messages}
    for a in rows:
        chat = ext[a.chat_id]
        got = delivered[(chat.external_id, a.text if chat.platform == "telegram" else "")]
        if chat.platform == "discord":
            got = sum(n for (who, _), n in delivered.items() if who == chat.external_id)
        if a.state == "sent":  # marked sent only when the platform accepted it, with its message id
            assert got == 1, a
            if chat.platform == "telegram":
                assert (chat.external_id, a.message_id) in tg_ids
        elif "not resent" in (a.last_error or ""):
            assert got == 1  # delivered once (timeout after the request arrived), never again
        else:
            assert a.state == "failed" and got == 0 and not chat.active, (a, chat)  # blocked / gone
    by_outcome = Counter(
        "sent" if a.state == "sent" else "unknown" if "not resent" in (a.last_error or "") else "blocked"
        for a in rows
    )
    assert by_outcome == {"sent": TG_CHATS + DC_USERS - 4, "unknown": 1, "blocked": 3}
    retried = [a for a in rows if a.state == "sent" and a.attempts > 1]
    assert len(retried) >= 5  # Telegram: 429, 502, 502, 429; Discord: the long 429 (discord.py may absorb 503s)
