"""Telegram limits: the bot's flood limiter (per chat, per group, overall), the per-user image request limit and
the group-admin check used before a group's alerts change.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from telegram.ext import BaseRateLimiter

from bot.chat.limits import SlidingWindowLimit

log = logging.getLogger(__name__)
JSONish = bool | dict[str, Any] | list[dict[str, Any]]
ADMIN_STATUSES = ("creator", "administrator")


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's documented flood limits: messages per second per chat, per minute per group, per second overall;
    ``max_wait_s``: the longest ``RetryAfter`` a request waits out and retries (longer ones are raised)."""

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


class FloodLimiter(BaseRateLimiter[int]):
    """PTB rate limiter: every request with a ``chat_id`` passes a per-chat limiter (groups: also a per-minute one)
    and the overall limiter. A ``RetryAfter`` halts all requests for the time Telegram asked, then retries, up to
    ``rate_limit_args`` (default ``limits.max_retries``) times when the wait is at most ``max_wait_s``.
    ``rate_limit_args=0`` (the alert notifier) raises the first ``RetryAfter`` so the outbox reschedules it."""

    def __init__(self, limits: FloodLimits = FloodLimits()) -> None:
        self.limits = limits
        self._overall = AsyncLimiter(limits.overall_per_s, 1.0)
        self._chats: dict[str, AsyncLimiter] = {}
        self._groups: dict[str, AsyncLimiter] = {}
        self._resume = asyncio.Event()
        self._resume.set()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _limiter(table: dict[str, AsyncLimiter], key: str, rate: float, period: float) -> AsyncLimiter:
        if len(table) > 1024:  # drop idle limiters (full capacity again) so the table stays small
            for k, lim in list(table.items()):
                if k != key and lim.has_capacity(lim.max_rate):
                    del table[k]
        found = table.get(key)
        if found is None:
            found = table[key] = AsyncLimiter(rate, period)
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
        """Run one Bot API request under the limits (see the class docstring)."""
        retries = self.limits.max_retries if rate_limit_args is None else rate_limit_args
        chat_id = data.get("chat_id")
        for attempt in range(retries + 1):
            try:
                async with contextlib.AsyncExitStack() as stack:
                    if chat_id is not None:
                        key = str(chat_id)
                        if key.startswith(("-", "@")):
                            group = self._limiter(self._groups, key, self.limits.per_group_per_min, 60.0)
                            await stack.enter_async_context(group)
                        chat = self._limiter(self._chats, key, self.limits.per_chat_per_s, 1.0)
                        await stack.enter_async_context(chat)
                        await stack.enter_async_context(self._overall)
                    await self._resume.wait()
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait_s = retry_after_s(exc)
                if attempt >= retries or wait_s > self.limits.max_wait_s:
                    raise
                log.warning("Telegram flood limit on %s: waiting %.1f s as told, then retrying", endpoint, wait_s)
                self._resume.clear()
                try:
                    await asyncio.sleep(wait_s)
                finally:
                    self._resume.set()
        raise AssertionError("unreachable")  # pragma: no cover


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
