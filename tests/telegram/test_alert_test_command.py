"""``/alert test`` on Telegram end to end (real PTB against the Bot API stand-in)."""

from __future__ import annotations

from tests.telegram.harness import Harness

ME = 4242


async def test_alert_test_answers_with_history_not_a_promise(bot: Harness) -> None:
    text = (await bot.say(ME, "/alert test BTC 1.5% min 5%", method="sendMessage")).params["text"]
    assert text.startswith("Alert test, history and not a promise: BTCUSDT 24h within 1.50%")
    assert "would have fired" in text and "SYNTHETIC" in text
    bad = (await bot.say(ME, "/alert test BTC 1.5% cooldown " + "9" * 400 + "m", method="sendMessage")).params["text"]
    assert "must be between 1m and 7d" in bad and len(bad) < 400 and "something went wrong" not in bad
    help_text = (await bot.say(ME, "/help", method="sendMessage")).params["text"]
    assert "/alert test <symbol>" in help_text
