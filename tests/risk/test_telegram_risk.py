"""/risk and /alert position as a Telegram user: the real PTB bot against the local Bot API stand-in (production
ChatService on SQLite, the sim market at a fixed clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.chat.reply import DISCLAIMER
from bot.model.risk import Position, liq_price
from bot.storage import chats, subscriptions
from bot.storage.db import Database
from tests.conftest_db import _sqlite_template, sqlite_url  # noqa: F401
from tests.standins.telegram_server import BotApiStandin, Call
from tests.telegram.harness import TOKEN, Harness, decode_png

ME = 4343
SLOW_S = 40.0  # an image answer computes a map and renders: generous on a loaded 2-core machine


async def say(bot: Harness, text: str, method: str) -> Call:
    """``Harness.say`` with a longer wait: the user in chat ``ME`` sends ``text``; the bot's next message."""
    before = len(bot.server.sent(ME))
    bot.server.type_text(ME, text)
    await bot.server.wait_for(lambda: len(bot.server.sent(ME)) > before, timeout_s=SLOW_S)
    call = bot.server.sent(ME)[before]
    assert call.method == method, (call.method, call.params)
    return call


@pytest.fixture
def tg_db(sqlite_url: str) -> Iterator[Database]:  # noqa: F811
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
async def bot(tg_db: Database) -> AsyncIterator[Harness]:
    server = BotApiStandin(TOKEN)
    await server.start()
    harness = Harness(tg_db, server)
    await harness.start()
    yield harness
    await harness.stop()
    await server.close()


async def test_risk_answers_with_the_binance_liquidation_price_and_a_marked_image(bot: Harness) -> None:
    [menu] = bot.server.calls_of("setMyCommands")
    assert "risk" in {c["command"] for c in menu.params["commands"]}
    call = await say(bot, "/risk long 62000 20x", "sendPhoto")
    text = call.params["caption"]
    assert len(text) < 1024  # nothing clipped
    # Binance isolated, $10k default notional, tier 1 (MMR 0.4%, cum 0): 62000 * 0.95 / 0.996 = 59,136.55.
    assert "Liquidation price: 59,136.55" in text and "isolated margin" in text
    assert "$10k notional (default size" in text and "binanceusdm" in text and "MMR 0.40%" in text
    assert "Distance:" in text and "Chance price reaches it within 24h:" in text
    assert "SYNTHETIC" in text and DISCLAIMER in text
    img = decode_png(call.files["photo"])
    assert img.shape[0] > 300 and float(img.std()) > 0.01
    plain = await say(bot, "/liqmap BTC 24h map", "sendPhoto")
    assert plain.files["photo"] != call.files["photo"]  # the marked chart is its own image


async def test_risk_short_with_size_and_clusters_between(bot: Harness) -> None:
    text = (await say(bot, "/risk short 60000 50x 1M BTCUSDT binanceusdm", "sendPhoto")).params["caption"]
    expected = liq_price(Position(side=-1, entry=60_000.0, leverage=50.0, size_usd=1e6))
    assert f"Liquidation price: {expected:,.2f}" in text and "$1M notional" in text and "default size" not in text


@pytest.mark.parametrize(("command", "needle"), [
    ("/risk long 0 20x", "the entry price must be above 0"),
    ("/risk long -62000 20x", "can't read the entry price"),
    ("/risk long 62000 200x", "200x is above binanceusdm's maximum of 125x for a $10k position"),
    ("/risk long 62000 60x 5M", "60x is above binanceusdm's maximum of 50x for a $5M position"),
    ("/risk long 62000 20x FOOBAR", "unknown symbol"),
    ("/risk long 62000 20x okx", "I know Binance's and Bybit's liquidation formulas"),
    ("/risk long 62000 20x 8M bybit", "beyond the tier table I have for bybit (up to $6.8M)"),
    ("/risk up 62000 20x", "the side is long or short"),
    ("/risk", "use risk long|short <entry> <leverage>x"),
])
async def test_bad_input_gets_one_line_with_the_correct_form(bot: Harness, command: str, needle: str) -> None:
    call = await say(bot, command, "sendMessage")
    text = call.params["text"]
    assert needle in text and "\n" not in text and "Traceback" not in text


async def test_position_alert_is_added_listed_paused_and_removed(bot: Harness) -> None:
    added = (await say(bot, "/alert position long 62000 20x 10k 2%", "sendMessage")).params["text"]
    assert added.startswith("Position alert #") and "liq 59,136.55" in added and "within 2.00%" in added
    listed = (await say(bot, "/alert list", "sendMessage")).params["text"]
    assert "position BTCUSDT long 62,000 20x $10k on binanceusdm" in listed
    sub_id = int(added.split("#", 1)[1].split(" ", 1)[0])
    paused = (await say(bot, f"/alert pause {sub_id}", "sendMessage")).params["text"]
    assert paused == f"Alert #{sub_id} paused."
    assert "paused" in (await say(bot, "/alert list", "sendMessage")).params["text"]
    with bot.db.session() as s:
        chat = chats.find_chat(s, "telegram", str(ME))
        assert chat is not None
        [sub] = subscriptions.list_subscriptions(s, chat.id)
        assert (sub.kind, sub.sides, sub.entry_price, sub.leverage, sub.size_usd, sub.exchange, sub.enabled) == (
            "position", "long", 62_000.0, 20.0, 10_000.0, "binanceusdm", False)
    removed = (await say(bot, f"/alert remove {sub_id}", "sendMessage")).params["text"]
    assert removed == f"Alert #{sub_id} removed."
    bad = (await say(bot, "/alert position long 62000 500x", "sendMessage")).params["text"]
    assert "leverage" in bad or "maximum" in bad


async def test_help_lists_risk_and_position_alerts(bot: Harness) -> None:
    text = (await say(bot, "/help", "sendMessage")).params["text"]
    assert "/risk long|short <entry> <leverage>x [size USD] [symbol] [exchange]" in text
    assert "/risk long 62000 20x" in text
    assert "/alert position long|short <entry> <leverage>x" in text and "/alert position long 62000 20x 10k 2%" in text


async def test_settings_state_the_position_alert_defaults(bot: Harness) -> None:
    text = (await say(bot, "/settings", "sendMessage")).params["text"]
    assert "Defaults for alert position: size $10k notional, within 2%, binanceusdm" in text
