"""The PostgreSQL server restarts (``pg_ctlcluster ... restart``) while the alert job ticks and the dispatcher
delivers. The loops log the failed passes and go on; once the server is back (``pool_pre_ping`` replaces the dead
connections) every alert is queued once and delivered once: nothing lost, nothing false, nothing twice (an alert the
platform accepted while the server was down is recorded as sent once the server is back, not sent again)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from bot.alerts.dispatcher import Dispatcher
from bot.storage.db import Database
from tests.alerts.helpers import NOW, Clock, RecordingNotifier, make_job
from tests.reliability import pg_server
from tests.reliability.helpers import alerts, subscribe

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
SUBS = 40


@pytest.fixture
def restartable() -> Iterator[None]:
    reason = pg_server.restart_reason()
    if reason:
        print(f"skipping the PostgreSQL restart test: {reason}")
        pytest.skip(reason)
    try:
        yield
    finally:
        pg_server.ensure_running()


class SlowNotifier(RecordingNotifier):
    """Records like ``RecordingNotifier`` but takes a little time per send, so the restart lands mid-batch."""

    async def send(
        self, chat_external_id: str, text: str, png: bytes | None, *, side: str | None = None
    ) -> str:
        await asyncio.sleep(0.01)
        return await super().send(chat_external_id, text, png)


async def test_database_restart_during_tick_and_dispatch_loses_nothing(
    restartable: None, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = Database(pg_url)
    try:
        sub_ids = subscribe(db, SUBS, at_ms=NOW, cooldown_s=3600)  # one alert each over the run
        clock = Clock()
        job = make_job(db, clock)
        notifier = SlowNotifier()
        send_clock = Clock()
        dispatcher = Dispatcher(db, {"telegram": notifier}, "w-pg", clock=send_clock, batch=4, lease_ms=10_000)
        restart = asyncio.ensure_future(asyncio.to_thread(pg_server.ctl, "restart"))
        failures, passes = 0, 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            passes += 1
            for step in (job.tick, dispatcher.run_once):
                try:
                    await step()
                except Exception:  # the server is down: what the production loops do is log and go on
                    failures += 1
            if restart.done():
                send_clock.advance(11_000)  # claims of passes that died with the server expire
                if all(a.state == "sent" for a in alerts(db)) and len(alerts(db)) == SUBS:
                    break
            await asyncio.sleep(0.02)
        done = await restart
        assert done.returncode == 0, done.stderr
        rows = alerts(db)
    finally:
        db.dispose()
    print(f"pg restart: {passes} passes, {failures} failed while the server was down, "
          f"{len(notifier.received) - SUBS} duplicate deliveries")
    assert failures > 0, "the restart never hit a pass: the test proved nothing"
    assert sorted(int(a.dedupe_key.split(":")[0]) for a in rows) == sub_ids  # one alert per subscription
    assert all(a.state == "sent" for a in rows), Counter(a.state for a in rows)
    delivered = Counter(chat for chat, _ in notifier.received)
    by_chat = {str(1000 + i): sub for i, sub in enumerate(sub_ids)}
    assert set(delivered) == set(by_chat)  # every alert arrived
    attempts = {a.subscription_id: a.attempts for a in rows}
    assert all(n == 1 for n in delivered.values()), delivered  # a failed "sent" record is retried, never resent
    assert all(attempts[sub] >= 1 for sub in sub_ids)
