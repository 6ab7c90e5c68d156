"""The one retry helper: retry transient ccxt failures (network, rate limit, timeout) with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import ccxt.async_support as ccxt

log = logging.getLogger(__name__)
T = TypeVar("T")

# RequestTimeout and ExchangeNotAvailable subclass NetworkError in ccxt; RateLimitExceeded does too
# (via DDoSProtection). Listed explicitly so the intent survives ccxt reshuffling its hierarchy.
TRANSIENT: tuple[type[BaseException], ...] = (
    ccxt.NetworkError,
    ccxt.RateLimitExceeded,
    ccxt.ExchangeNotAvailable,
    ccxt.RequestTimeout,
    asyncio.TimeoutError,
)


def backoff_delay(
    attempt: int, base_delay: float, max_delay: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): uniform in [cap/2, cap],
    cap = min(max_delay, base * 2**(attempt-1))."""
    cap = min(max_delay, base_delay * 2 ** (attempt - 1))
    return (rng or random).uniform(cap / 2, cap)


async def with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    what: str = "request",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Await ``fn()``; on a transient ccxt error wait (exponential backoff with jitter) and try again, up to
    ``attempts`` tries in total, then re-raise the last error. Other exceptions propagate at once.

    ``sleep`` and ``rng`` are injectable so tests run without real waiting.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except TRANSIENT as exc:
            if attempt == attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay, rng)
            log.warning("%s failed (%s: %s); retry %d/%d in %.2fs", what, type(exc).__name__,
                        str(exc)[:200], attempt, attempts - 1, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
