"""FloodLimiter: PTB's AIORateLimiter plus what it lacks (pacing per private chat, ``rate_limit_args=0`` meaning
"never retry", long ``RetryAfter`` passed on without halting the bot), driven directly with a scripted callback."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.chat.telegram.limits import FloodLimiter, FloodLimits
from tests.telegram.harness import FAST

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter(int) in PTB


class Script:
    """A Bot API call: raises the queued ``RetryAfter`` waits (seconds) first, then answers; records call times."""

    def __init__(self, *waits: float) -> None:
        self.waits = list(waits)
        self.at: list[float] = []

    async def __call__(self, *args: Any, **kwargs: Any) -> bool:
        self.at.append(time.monotonic())
        if self.waits:
            raise RetryAfter(dt.timedelta(seconds=self.waits.pop(0)))
        return True


async def send(limiter: FloodLimiter, call: Script, chat_id: int | str, rate_limit_args: int | None = None) -> Any:
    return await limiter.process_request(call, (), {}, "sendMessage", {"chat_id": chat_id}, rate_limit_args)


def test_is_ptbs_aioratelimiter_with_our_rates() -> None:
    limiter = FloodLimiter()
    assert isinstance(limiter, AIORateLimiter)
    assert limiter._base_limiter is not None and limiter._base_limiter.max_rate == 30
    assert (limiter._group_max_rate, limiter._group_time_period, limiter._max_retries) == (20, 60, 2)


async def test_rate_limit_args_zero_raises_the_first_retry_after_without_halting_others() -> None:
    limiter = FloodLimiter(FAST)
    alert = Script(1)
    with pytest.raises(RetryAfter):
        await send(limiter, alert, 100, rate_limit_args=0)  # PTB alone would read 0 as "the default, 2 retries"
    assert len(alert.at) == 1
    other = Script()
    started = time.monotonic()
    assert await send(limiter, other, 101) is True
    assert other.at[0] - started < 0.5  # nobody waits out the alert's RetryAfter


async def test_short_retry_after_is_waited_out_and_retried() -> None:
    limiter = FloodLimiter(FAST)
    reply = Script(1)
    assert await send(limiter, reply, 5) is True
    assert len(reply.at) == 2 and reply.at[1] - reply.at[0] >= 1.0


async def test_retry_after_longer_than_max_wait_is_raised_at_once() -> None:
    limiter = FloodLimiter(
        FloodLimits(per_chat_per_s=1000, per_group_per_min=10_000, overall_per_s=10_000, max_wait_s=10)
    )
    reply = Script(120)
    started = time.monotonic()
    with pytest.raises(RetryAfter) as err:
        await send(limiter, reply, 5)
    assert type(err.value) is RetryAfter and len(reply.at) == 1 and time.monotonic() - started < 0.5


async def test_retries_stop_at_max_retries() -> None:
    limiter = FloodLimiter(
        FloodLimits(per_chat_per_s=1000, per_group_per_min=10_000, overall_per_s=10_000, max_retries=1)
    )
    reply = Script(0.1, 0.1, 0.1)
    with pytest.raises(RetryAfter):
        await send(limiter, reply, 5)
    assert len(reply.at) == 2  # the first try and one retry


async def test_private_chats_are_paced_and_other_chats_are_not() -> None:
    limiter = FloodLimiter(FloodLimits(per_chat_per_s=5, per_group_per_min=10_000, overall_per_s=10_000))
    same, others = Script(), Script()
    started = time.monotonic()
    await asyncio.gather(
        *(send(limiter, same, 7) for _ in range(10)), *(send(limiter, others, c) for c in range(100, 110))
    )
    assert max(others.at) - started < 0.5  # ten different chats: no wait
    assert max(same.at) - started >= 0.8  # ten messages to one chat at 5/s: about a second (a lower bound)


async def test_groups_also_get_ptbs_per_group_limit_and_private_chats_do_not() -> None:
    limiter = FloodLimiter(FloodLimits(per_chat_per_s=1000, per_group_per_min=5, overall_per_s=10_000))
    for chat_id in (-100123, 7, 7, 7, 7, 7, 7):
        await send(limiter, Script(), chat_id)
    assert list(limiter._group_limiters) == [-100123]  # private chat 7 has no group limiter
    await asyncio.gather(*(send(limiter, Script(), -100123) for _ in range(4)))
    assert not limiter._group_limiters[-100123].has_capacity()  # the group's 5 per minute are used up
