"""Telegram limits: the bot's flood limiter (PTB's ``AIORateLimiter`` for the overall and per-group limits and
``RetryAfter``, plus pacing per chat), the per-user image request limit and the group-admin check used before a
group's alerts change.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter

from bot.chat.limits import SlidingWindowLimit

log = logging.getLogger(__name__)
JSONish = bool | dict[str, Any] | list[dict[str, Any]]
ADMIN_STATUSES = ("creator", "administrator")


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's documented flood limits: messages per second per chat, per minute per group, per second overall;
    ``max_wait_s``: the longest ``RetryAfter`` a request waits out and retries, at most ``max_retries`` times (longer
    ones are raised at once, without halting the other requests)."""

    per_chat_per_s: float = 1.0
    per_group_per_min: float = 20.0
    overall_per_s: float = 30.0
    max_wait_s: float = 10.0
    max_retries: int = 2


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB returns an int or a timedelta depending on PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class _PassOn(Exception):
    """Carries a ``RetryAfter`` past ``AIORateLimiter``'s retry loop (which catches every ``RetryAfter``)."""

    def __init__(self, exc: RetryAfter) -> None:
        super().__init__(exc.message)
        self.exc = exc


class FloodLimiter(AIORateLimiter):
    """PTB's ``AIORateLimiter`` (overall limit, per-group limit, halt-all-and-retry on ``RetryAfter``) with three
    additions it lacks:

    - pacing per chat (``per_chat_per_s``, private chats included: Telegram asks for at most about one message per
      second in any chat, and ``AIORateLimiter`` only limits groups and the bot as a whole);
    - ``rate_limit_args=0`` means "never retry" (the alert notifier: the outbox reschedules after ``retry_after``
      without blocking a worker). ``AIORateLimiter`` reads 0 as "use the default" (``rate_limit_args or
      max_retries``), so it would wait the alert's ``RetryAfter`` out itself;
    - a ``RetryAfter`` longer than ``max_wait_s`` is raised at once instead of halting every request of the bot
      for that long (``AIORateLimiter`` waits out any length).

    A ``RetryAfter`` that is passed on is not retried and does not halt the other requests."""

    def __init__(self, limits: FloodLimits = FloodLimits()) -> None:
        super().__init__(
            overall_max_rate=limits.overall_per_s,
            overall_time_period=1,
            group_max_rate=limits.per_group_per_min,
            group_time_period=60,
            max_retries=limits.max_retries,
        )
        self.limits = limits
        self._chats: dict[str, AsyncLimiter] = {}

    def _chat_limiter(self, key: str) -> AsyncLimiter:
        if len(self._chats) > 1024:  # drop idle limiters (full capacity again) so the table stays small
            for k, lim in list(self._chats.items()):
                if k != key and lim.has_capacity(lim.max_rate):
                    del self._chats[k]
        found = self._chats.get(key)
        if found is None:
            found = self._chats[key] = AsyncLimiter(self.limits.per_chat_per_s, 1.0)
        return found

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONish]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONish:
        """Pace the chat, then run the request under ``AIORateLimiter`` (see the class docstring)."""
        no_retry = rate_limit_args == 0

        async def attempt(*call_args: Any, **call_kwargs: Any) -> JSONish:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                wait_s = retry_after_s(exc)
                if no_retry or wait_s > self.limits.max_wait_s:
                    raise _PassOn(exc) from None
                log.warning("Telegram flood limit on %s: retry after %.1f s (waiting, then retrying)", endpoint, wait_s)
                raise

        chat_id = data.get("chat_id")
        try:
            if chat_id is not None and self.limits.per_chat_per_s:
                await self._chat_limiter(str(chat_id)).acquire()  # a pace, not a lock: this chat's next slot
            return await super().process_request(
                attempt, args, kwargs, endpoint, data, None if no_retry else rate_limit_args
            )
        except _PassOn as passed:
            raise passed.exc from None


class UserRateLimit(SlidingWindowLimit):
    """At most ``max_requests`` image requests per user in any ``per_s`` seconds (a sliding window)."""

    def __init__(self, max_requests: int = 6, per_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__(max_requests, per_s, clock)


class AdminCheck:
    """Is this user an admin of this group? ``getChatMember``, cached for ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def is_admin(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        """True for the group's creator and administrators; False otherwise or when Telegram cannot tell us."""
        key = (chat_id, user_id)
        hit = self._cache.get(key)
        if hit is not None and self.clock() < hit[0]:
            return hit[1]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("admin check for user %d in chat %d failed: %s", user_id, chat_id, exc)
            return False
        ok = member.status in ADMIN_STATUSES
        self._cache[key] = (self.clock() + self.ttl_s, ok)
        return ok
