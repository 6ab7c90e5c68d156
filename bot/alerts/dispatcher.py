"""The outbox dispatcher: claim due alerts, send each through its platform's notifier, record the outcome.

Delivery guarantee (see docs/alerts.md):
- A row is marked ``sent`` only after ``Notifier.send`` returned a message id, and only by the worker holding its
  claim. Two dispatchers (threads, processes or replicas on one PostgreSQL) never hold the same claim.
- Crash after the alert was queued and before the send: the claim expires after ``lease_ms`` and another (or the
  restarted) worker sends it: exactly once.
- Lost database after the platform accepted the message: recording it is retried for up to half the claim's
  duration (``_record_sent``), so a database restart does not resend it.
- Crash (or a database away for longer) after the platform accepted the message but before ``mark_sent``
  committed: the claim expires and the alert is sent again. So delivery is at-least-once, with duplicates possible
  only in that window (one send + one commit long). A send slower than ``lease_ms`` can also be duplicated; keep
  ``lease_ms`` well above the platform timeout.
- ``SendOutcomeUnknown`` (a timeout after upload) is never resent: marked ``failed`` (at-most-once for that case).
- ``ChatBlocked``: the chat is deactivated (its subscriptions stop), its queued alerts fail.
- ``ChatMoved`` (a Telegram group became a supergroup): the chat moves to its new id with its subscriptions and
  pending alerts, and the alert is sent there once; a second move right away is retried later. Transient errors retry
  with capped exponential backoff up to ``max_attempts``. Alerts older than ``max_age_ms`` are not sent (``failed``,
  "expired"): an old alert would be misleading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from bot.alerts.job import make_worker_id
from bot.alerts.notifier import ChatBlocked, ChatMoved, Notifier, SendOutcomeUnknown, TransientSendError
from bot.clock import Clock, wall_ms
from bot.ops.metrics import Metrics
from bot.storage import chats, outbox
from bot.storage.db import Database
from bot.storage.records import AlertRec, ChatRec

log = logging.getLogger(__name__)
MARK_SENT_BUDGET = 0.5  # share of the claim's real duration spent retrying a failed "sent" record
ImageFor = Callable[[AlertRec], Awaitable[bytes | None]]


@dataclass
class DispatchReport:
    """Counts of one ``run_once``."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0


def backoff_ms(attempts: int, base_ms: int, cap_ms: int) -> int:
    """Delay before the next attempt after ``attempts`` tries: base x 2^(attempts-1), capped."""
    return int(min(cap_ms, base_ms * 2 ** max(attempts - 1, 0)))


class Dispatcher:
    """Sends queued alerts. ``notifiers`` maps a platform ('telegram', 'discord') to its ``Notifier``."""

    def __init__(
        self,
        db: Database,
        notifiers: Mapping[str, Notifier],
        worker_id: str = "",
        *,
        clock: Clock = wall_ms,
        batch: int = 20,
        lease_ms: int = 120_000,
        max_attempts: int = 6,
        backoff_base_ms: int = 5_000,
        backoff_cap_ms: int = 300_000,
        max_age_ms: int = 3_600_000,
        image_for: ImageFor | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.notifiers = dict(notifiers)
        self.worker_id = worker_id or make_worker_id("dispatch")
        self.clock = clock
        self.batch = batch
        self.lease_ms = lease_ms
        self.max_attempts = max_attempts
        self.backoff_base_ms = backoff_base_ms
        self.backoff_cap_ms = backoff_cap_ms
        self.max_age_ms = max_age_ms
        self.real_to_clock = 1.0  # clock ms per real ms: a replay's speed (its clock runs faster than real time)
        self.image_for = image_for
        self.metrics = metrics
        self._blocked_now: set[int] = set()
        self._moved_now: dict[int, ChatRec] = {}  # chat id at claim time -> the chat it moved to (this batch)

    async def run_once(self) -> DispatchReport:
        """Claim up to ``batch`` due alerts and try each once."""
        report = DispatchReport()
        claimed = await asyncio.to_thread(
            outbox.claim, self.db, self.worker_id, self.batch, self.clock(), self.lease_ms
        )
        report.claimed = len(claimed)
        if not claimed:
            return report
        chat_map = await asyncio.to_thread(self._chats, [a.chat_id for a in claimed])
        for alert in claimed:
            chat = chat_map.get(alert.chat_id)
            await self._deliver(alert, chat, report)
            if chat is None:
                continue
            now_at = self._moved_now.get(chat.id, chat)  # later alerts of this batch go to the new id
            if now_at.active and now_at.id in self._blocked_now:
                now_at = replace(now_at, active=False)  # later alerts of this batch fail, not resent
            chat_map[chat.id] = now_at
        self._blocked_now.clear()
        self._moved_now.clear()
        if self.metrics is not None:
            self.metrics.record_dispatch(report.sent, report.failed, report.retried)
        return report

    async def run(self, stop: asyncio.Event, poll_s: float = 2.0) -> None:
        """Dispatch until ``stop`` is set: immediately again after a full batch, else every ``poll_s``."""
        while not stop.is_set():
            try:
                report = await self.run_once()
            except Exception:
                log.exception("dispatcher pass failed")
                report = DispatchReport()
            if report.claimed >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)

    def _chats(self, ids: list[int]) -> dict[int, ChatRec]:
        with self.db.session() as s:
            return chats.get_chats(s, ids)

    async def _deliver(self, alert: AlertRec, chat: ChatRec | None, report: DispatchReport) -> None:
        now = self.clock()
        if chat is None or not chat.active:
            await self._fail(alert, "chat inactive" if chat else "chat gone", report)
            return
        if now - alert.created_at > self.max_age_ms:
            await self._fail(alert, f"expired: {(now - alert.created_at) // 1000} s old, not sent", report)
            return
        notifier = self.notifiers.get(chat.platform)
        if notifier is None:
            await self._fail(alert, f"no notifier configured for {chat.platform}", report)
            return
        try:
            png = await self.image_for(alert) if self.image_for is not None else None
            try:
                message_id = await notifier.send(chat.external_id, alert.text, png, side=alert.side)
            except ChatMoved as moved:
                chat = await self._move(alert, chat, moved)
                message_id = await notifier.send(chat.external_id, alert.text, png, side=alert.side)  # once
        except ChatMoved as exc:  # moved again at once: the next attempt starts from the newest id
            await self._retry(alert, f"chat moved again: {exc}", None, report)
            return
        except ChatBlocked as exc:
            log.warning("chat %s/%s blocked the bot: %s; deactivating it", chat.platform, chat.external_id, exc)
            await asyncio.to_thread(self._blocked, alert, chat, str(exc) or "blocked")
            self._blocked_now.add(chat.id)
            report.blocked += 1
            report.failed += 1
            return
        except SendOutcomeUnknown as exc:
            await self._fail(alert, f"delivery unknown, not resent: {exc}", report)
            return
        except TransientSendError as exc:
            await self._retry(alert, str(exc) or type(exc).__name__, exc.retry_after_s, report)
            return
        except Exception as exc:
            log.exception("alert %d: unexpected send error to %s/%s", alert.id, chat.platform, chat.external_id)
            await self._retry(alert, f"{type(exc).__name__}: {exc}", None, report)
            return
        ok = await self._record_sent(alert.id, str(message_id))
        if ok:
            report.sent += 1
        else:
            log.warning("alert %d sent (message %s) but its claim was lost: it may be sent twice", alert.id, message_id)

    async def _move(self, alert: AlertRec, chat: ChatRec, moved: ChatMoved) -> ChatRec:
        """Move ``chat`` (subscriptions, pending alerts) to its new id; the chat to resend to. ``ChatBlocked`` when
        the chat is gone or the chat at the new id is inactive."""

        def write() -> ChatRec | None:
            with self.db.session() as s:
                return chats.move_chat(s, chat.platform, chat.id, moved.new_external_id)

        now_at = await asyncio.to_thread(write)
        if now_at is None:
            raise ChatBlocked(f"{moved}; the chat is no longer registered")
        log.warning(
            "chat %s/%s moved to %s (%s): its subscriptions and alerts moved with it; alert %d is resent there",
            chat.platform, chat.external_id, now_at.external_id, moved, alert.id,
        )
        self._moved_now[chat.id] = now_at
        if not now_at.active:
            raise ChatBlocked(f"{moved}; the chat there is inactive ({now_at.blocked_reason or 'blocked'})")
        return now_at

    async def _record_sent(self, alert_id: int, message_id: str) -> bool:
        """Mark the alert sent. The platform has accepted it, so a database error here must not let the claim
        expire (the alert would be sent again): retry with capped backoff for up to half the claim's real duration,
        while the claim is surely still ours, then give up (the documented at-least-once window)."""
        budget_s = self.lease_ms / max(self.real_to_clock, 1.0) / 1000 * MARK_SENT_BUDGET
        deadline = time.monotonic() + budget_s
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(self._mark_sent, alert_id, message_id)
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("alert %d sent, but recording it failed (%s); retrying in %.1f s", alert_id,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _mark_sent(self, alert_id: int, message_id: str) -> bool:
        with self.db.session() as s:
            return outbox.mark_sent(s, alert_id, self.worker_id, message_id, self.clock())

    async def _retry(self, alert: AlertRec, error: str, retry_after_s: float | None, report: DispatchReport) -> None:
        if alert.attempts >= self.max_attempts:
            await self._fail(alert, f"gave up after {alert.attempts} attempts: {error}", report)
            return
        delay = backoff_ms(alert.attempts, self.backoff_base_ms, self.backoff_cap_ms)
        if retry_after_s is not None:
            delay = max(delay, int(retry_after_s * 1000 * self.real_to_clock))
        log.info("alert %d: attempt %d failed (%s); retrying in %d s", alert.id, alert.attempts, error, delay // 1000)

        def write() -> None:
            with self.db.session() as s:
                outbox.mark_retry(s, alert.id, self.worker_id, error, self.clock() + delay)

        await asyncio.to_thread(write)
        report.retried += 1

    async def _fail(self, alert: AlertRec, error: str, report: DispatchReport) -> None:
        log.info("alert %d failed: %s", alert.id, error)

        def write() -> None:
            with self.db.session() as s:
                outbox.mark_failed(s, alert.id, self.worker_id, error)

        await asyncio.to_thread(write)
        report.failed += 1

    def _blocked(self, alert: AlertRec, chat: ChatRec, reason: str) -> None:
        with self.db.session() as s:
            outbox.mark_failed(s, alert.id, self.worker_id, f"chat blocked: {reason}")
            chats.deactivate_chat(s, chat.id, reason)
