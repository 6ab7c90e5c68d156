"""Alerts from a scheduler tick reach Telegram through the dispatcher and TelegramNotifier, and every way a send
can fail maps onto the outbox's outcome (retry as told, deactivate, never resend an upload of unknown fate)."""

from __future__ import annotations

from bot.alerts.dispatcher import Dispatcher
from bot.chat.telegram import TelegramNotifier, start_telegram
from bot.storage import chats, outbox
from bot.storage.records import AlertRec
from tests.alerts.helpers import add_sub, make_job
from tests.telegram.harness import Harness, decode_png

CHAT = 100


async def queue_alert(bot: Harness) -> AlertRec:
    add_sub(bot.db, str(CHAT))
    report = await make_job(bot.db, bot.clock).tick()
    assert report.alerts_queued == 1
    with bot.db.session() as s:
        [alert] = outbox.list_alerts(s, state="queued")
    return alert


def dispatcher(bot: Harness, notifier: TelegramNotifier | None = None) -> Dispatcher:
    tg = notifier or bot.runner.notifier
    return Dispatcher(bot.db, {"telegram": tg}, "w1", clock=bot.clock, image_for=bot.service.alert_png)


def stored(bot: Harness, alert_id: int) -> AlertRec:
    with bot.db.session() as s:
        alert = outbox.get_alert(s, alert_id)
    assert alert is not None
    return alert


async def test_alert_from_a_tick_arrives_as_photo_with_caption(bot: Harness) -> None:
    alert = await queue_alert(bot)
    report = await dispatcher(bot).run_once()
    assert (report.claimed, report.sent) == (1, 1)
    [call] = bot.server.sent(CHAT)
    assert call.method == "sendPhoto"
    decode_png(call.files["photo"])
    caption = call.params["caption"]
    assert caption == alert.text
    assert "liquidation cluster below" in caption and "Zone " in caption and "Squeeze risk" in caption
    done = stored(bot, alert.id)
    assert done.state == "sent" and done.message_id == str(bot.server.messages_of(CHAT)[-1]["message_id"])


async def test_flood_limit_reschedules_after_retry_after_without_blocking(bot: Harness) -> None:
    alert = await queue_alert(bot)
    bot.server.fail("sendPhoto", "429", retry_after=120)
    report = await dispatcher(bot).run_once()
    assert (report.retried, report.sent) == (1, 0)
    assert len(bot.server.calls_of("sendPhoto")) == 1  # the notifier did not sit out 120 s itself
    again = stored(bot, alert.id)
    assert again.state == "queued" and again.next_attempt_at >= bot.clock.now + 120_000
    bot.clock.advance(121_000)
    assert (await dispatcher(bot).run_once()).sent == 1


async def test_blocked_bot_deactivates_the_chat(bot: Harness) -> None:
    alert = await queue_alert(bot)
    bot.server.fail("sendPhoto", "403", description="Forbidden: bot was blocked by the user")
    report = await dispatcher(bot).run_once()
    assert (report.blocked, report.failed) == (1, 1)
    with bot.db.session() as s:
        chat = chats.get_chat(s, alert.chat_id)
        assert chat is not None and not chat.active and "blocked" in (chat.blocked_reason or "")


async def test_timed_out_photo_is_not_resent(bot: Harness) -> None:
    alert = await queue_alert(bot)
    bot.server.fail("sendPhoto", "timeout", hang_s=1.0)
    impatient = TelegramNotifier(bot.runner.application.bot, read_timeout_s=0.2)
    report = await dispatcher(bot, impatient).run_once()
    assert (report.failed, report.sent, report.retried) == (1, 0, 0)
    failed = stored(bot, alert.id)
    assert failed.state == "failed" and "not resen" in (failed.last_error or "")
    bot.clock.advance(600_000)
    assert (await dispatcher(bot).run_once()).claimed == 0
    assert len(bot.server.calls_of("sendPhoto")) == 1  # delivered once (the server got it), never again


async def test_send_only_runner_delivers_without_polling(bot: Harness) -> None:
    runner = await start_telegram(bot.settings, bot.service, receive_updates=False)  # like `liqmap run --once`
    try:
        assert len(bot.server.calls_of("getMe")) == 2  # it logged in...
        assert len(bot.server.calls_of("setMyCommands", "deleteWebhook")) == 2  # ...but set up no updates of its own
        await queue_alert(bot)
        assert (await dispatcher(bot, runner.notifier).run_once()).sent == 1
    finally:
        await runner.stop()
    assert not runner.application.running

