"""End to end: a user talks to the real PTB bot through the local Bot API stand-in; we assert on what it received."""

from __future__ import annotations

from bot.chat.reply import DISCLAIMER, parse_action
from bot.format import fmt_time_utc
from bot.storage import chats, subscriptions
from tests.alerts.helpers import NOW
from tests.telegram.harness import Harness, buttons, decode_png

ME = 4242


async def test_start_registers_the_chat_and_help_lists_commands(bot: Harness) -> None:
    server = bot.server
    assert server.calls_of("getMe") and server.calls_of("deleteWebhook")  # logged in, polling mode
    [menu] = server.calls_of("setMyCommands")
    assert {c["command"] for c in menu.params["commands"]} >= {"liqmap", "levels", "alert", "status", "help"}
    start = await bot.say(ME, "/start", method="sendMessage")
    assert DISCLAIMER in start.params["text"] and "/liqmap" in start.params["text"]
    with bot.db.session() as s:
        chat = chats.find_chat(s, "telegram", str(ME))
        assert chat is not None and chat.kind == "private" and chat.active
    text = (await bot.say(ME, "/help", method="sendMessage")).params["text"]
    for needle in ("/liqmap [symbol] [window]", "/levels", "/alert add <symbol>", "e.g. /alert add BTC 1.5%",
                   "/alert remove <id>", "/status", "/settings", DISCLAIMER):
        assert needle in text


async def test_liqmap_replies_with_a_real_png_caption_and_keyboard(bot: Harness) -> None:
    call = await bot.say(ME, "/liqmap", method="sendPhoto")
    img = decode_png(call.files["photo"])
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500 and float(img.std()) > 0.01
    caption = call.params["caption"]
    assert caption.startswith("BTCUSDT 24h liquidation map · price")
    assert "Above (shorts):" in caption and "Below (longs):" in caption
    assert "binanceusdm, bybit, okx" in caption and fmt_time_utc(NOW)[:10] in caption and DISCLAIMER in caption
    rows = buttons(call)
    assert [label for label, _ in rows[0]] == ["12h", "• 24h", "3d", "7d"]
    assert [label for label, _ in rows[1]] == ["• heatmap", "map", "↻ refresh"]
    assert parse_action(rows[0][3][1]) == ("BTC/USDT:USDT", "7d", "heatmap")


async def test_buttons_switch_window_and_kind_by_editing_the_same_message(bot: Harness) -> None:
    first = await bot.say(ME, "/liqmap btc 24h", method="sendPhoto")
    [sent] = bot.server.sent(ME, "sendPhoto")
    message_id = bot.server.messages_of(ME)[-1]["message_id"]
    await bot.press(ME, message_id, buttons(first)[0][3][1])  # 7d
    [edit] = bot.server.calls_of("editMessageMedia")
    assert edit.params["chat_id"] == ME and edit.params["message_id"] == message_id
    assert edit.params["media"]["type"] == "photo" and "BTCUSDT 7d liquidation map" in edit.params["media"]["caption"]
    week = bot.server.response_photo(edit)
    decode_png(week)
    assert week != sent.files["photo"]
    assert [label for label, _ in buttons(edit)[0]] == ["12h", "24h", "3d", "• 7d"]
    await bot.press(ME, message_id, buttons(edit)[1][1][1])  # map
    kind_edit = bot.server.calls_of("editMessageMedia")[-1]
    assert [label for label, _ in buttons(kind_edit)[1]] == ["heatmap", "• map", "↻ refresh"]
    assert bot.server.response_photo(kind_edit) not in (week, sent.files["photo"])
    await bot.press(ME, message_id, buttons(kind_edit)[1][2][1])  # refresh
    assert len(bot.server.calls_of("editMessageMedia")) == 3
    assert len(bot.server.sent(ME, "sendPhoto")) == 1  # never a new message for a button


async def test_levels_is_a_monospace_table(bot: Harness) -> None:
    call = await bot.say(ME, "/levels BTC", method="sendMessage")
    text = call.params["text"]
    assert call.params["parse_mode"] == "HTML" and text.startswith("<pre>") and text.endswith("</pre>")
    assert "BTCUSDT 24h · price" in text and "Nearest:" in text and "Largest:" in text


async def test_alert_commands_round_trip_with_friendly_errors(bot: Harness) -> None:
    bad = (await bot.say(ME, "/alert add BTC 1.5 lots", method="sendMessage")).params["text"]
    assert "I don't understand 'lots'" in bad and "\n" not in bad
    assert "Traceback" not in bad
    ok = (await bot.say(ME, "/alert add BTC 1.5% min 50M side long")).params["text"]
    assert ok.startswith("Alert #") and "BTCUSDT 24h within 1.50% · min $50M · long" in ok
    alert_id = int(ok.split()[1].lstrip("#").rstrip(":"))
    with bot.db.session() as s:
        chat = chats.find_chat(s, "telegram", str(ME))
        assert chat is not None
        [sub] = subscriptions.list_subscriptions(s, chat.id)
        assert (sub.id, sub.proximity_pct, sub.min_usd, sub.sides) == (alert_id, 1.5, 50e6, "long")
    assert f"#{alert_id} BTCUSDT" in (await bot.say(ME, "/alert list")).params["text"]
    assert (await bot.say(ME, f"/alert pause {alert_id}")).params["text"] == f"Alert #{alert_id} paused."
    assert "paused" in (await bot.say(ME, "/settings")).params["text"]
    assert (await bot.say(ME, "/alert resume")).params["text"] == "All 1 alerts resumed."
    status = (await bot.say(ME, "/status")).params["text"]
    assert "Your active alerts: 1" in status and f"#{alert_id}" in status
    assert (await bot.say(ME, f"/alert remove {alert_id}")).params["text"] == f"Alert #{alert_id} removed."
    assert "/alert add" in (await bot.say(ME, "/alert frobnicate")).params["text"]
    assert (await bot.say(ME, "/alert list")).params["text"].startswith("No alerts yet")
