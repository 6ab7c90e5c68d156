"""The outbox dispatcher on real SQLite and PostgreSQL: sent once, blocked chats, retries, nothing falsely sent."""

from __future__ import annotations

from bot.alerts.dispatcher import Dispatcher, backoff_ms
from bot.alerts.notifier import SendOutcomeUnknown
from bot.storage import chats, outbox, subscriptions
from bot.storage.db import Database
from bot.storage.records import AlertRec
from tests.alerts.helpers import NOW, Clock, RecordingNotifier, add_sub, make_job


async def queued_alert(db: Database, clock: Clock, external_id: str = "100") -> AlertRec:
    add_sub(db, external_id)
    await make_job(db, clock).tick()
    with db.session() as s:
        [a] = outbox.list_alerts(s, state="queued")
    return a


def get(db: Database, alert_id: int) -> AlertRec:
    with db.session() as s:
        a = outbox.get_alert(s, alert_id)
    assert a is not None
    return a


async def test_sends_once_and_records_message_id(db: Database) -> None:
    clock = Clock()
    a = await queued_alert(db, clock)
    tg = RecordingNotifier()
    d = Dispatcher(db, {"telegram": tg}, "w1", clock=clock)
    report = await d.run_once()
    assert (report.claimed, report.sent) == (1, 1)
    assert tg.received == [("100", a.text)]
    done = get(db, a.id)
    assert (done.state, done.message_id, done.sent_at, done.attempts) == ("sent", "m1", NOW, 1)
    assert (await d.run_once()).claimed == 0 and len(tg.received) == 1


async def test_blocked_chat_is_deactivated_with_its_subscriptions(db: Database) -> None:
    clock = Clock()
    a = await queued_alert(db, clock)
    tg = RecordingNotifier(fail=["blocked"])
    report = await Dispatcher(db, {"telegram": tg}, "w1", clock=clock).run_once()
    assert (report.blocked, report.failed, report.sent) == (1, 1, 0)
    failed = get(db, a.id)
    assert failed.state == "failed" and "blocked" in (failed.last_error or "") and failed.sent_at is None
    with db.session() as s:
        chat = chats.get_chat(s, a.chat_id)
        assert chat is not None and not chat.active and chat.blocked_reason
        assert subscriptions.subscriptions_for(s, "BTC/USDT:USDT", "24h") == []
        assert subscriptions.active_keys(s) == []
    clock.advance(60_000)
    assert (await make_job(db, clock).tick()).alerts_queued == 0  # the job no longer evaluates for that chat


async def test_transient_errors_retry_with_backoff_then_send(db: Database) -> None:
    clock = Clock()
    a = await queued_alert(db, clock)
    tg = RecordingNotifier(fail=["transient", "boom"])
    d = Dispatcher(db, {"telegram": tg}, "w1", clock=clock, backoff_base_ms=1000, backoff_cap_ms=10_000)
    assert (await d.run_once()).retried == 1
    r = get(db, a.id)
    assert (r.state, r.message_id, r.sent_at, r.next_attempt_at) == ("queued", None, None, NOW + 1000)
    assert "Timed out" in (r.last_error or "")
    assert (await d.run_once()).claimed == 0  # not due yet
    clock.advance(1000)
    assert (await d.run_once()).retried == 1  # an unexpected error is retried too
    assert get(db, a.id).next_attempt_at == clock() + 2000
    clock.advance(2000)
    assert (await d.run_once()).sent == 1
    done = get(db, a.id)
    assert (done.state, done.attempts, done.message_id) == ("sent", 3, "m1")
    assert tg.received == [("100", a.text)]


async def test_gives_up_after_max_attempts_and_never_marks_sent(db: Database) -> None:
    clock = Clock()
    a = await queued_alert(db, clock)
    d = Dispatcher(
        db,
        {"telegram": RecordingNotifier(fail=["transient"] * 5)},
        "w1",
        clock=clock,
        max_attempts=3,
        backoff_base_ms=1000,
    )
    for _ in range(3):
        await d.run_once()
        clock.advance(10_000)
    r = get(db, a.id)
    assert (r.state, r.attempts, r.sent_at, r.message_id) == ("failed", 3, None, None)
    assert "gave up after 3 attempts" in (r.last_error or "")


async def test_unknown_outcome_and_expired_and_missing_notifier_fail_without_sending(db: Database) -> None:
    clock = Clock()
    a = await queued_alert(db, clock)

    class Unknown:
        async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
            raise SendOutcomeUnknown("timed out after upload")

    await Dispatcher(db, {"telegram": Unknown()}, "w1", clock=clock).run_once()
    assert get(db, a.id).state == "failed"
    b = await queued_alert(db, Clock(NOW + 60_000), "200")
    clock.now = NOW + 2 * 3_600_000
    await Dispatcher(db, {"telegram": RecordingNotifier()}, "w1", clock=clock).run_once()
    assert "expired" in (get(db, b.id).last_error or "")
    c = await queued_alert(db, Clock(NOW + 120_000), "300")
    await Dispatcher(db, {}, "w1", clock=Clock(NOW + 120_000)).run_once()
    assert "no notifier" in (get(db, c.id).last_error or "") and get(db, c.id).state == "failed"


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_ms(n, 1000, 5000) for n in (1, 2, 3, 4, 9)] == [1000, 2000, 4000, 5000, 5000]
