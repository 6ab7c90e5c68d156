"""Bounds that protect the chat side from abuse: sliding-window request limits (shared by the adapters and the
command service). The bounded cache and the per-key locks live in ``bot.caching``."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SlidingWindowLimit:
    """At most ``max_requests`` requests per key (a user, a chat) in any ``per_s`` seconds."""

    def __init__(self, max_requests: int, per_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if max_requests < 1 or per_s <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_s > 0")
        self.max_requests = max_requests
        self.per_s = per_s
        self.clock = clock
        self._seen: dict[Hashable, deque[float]] = {}

    def wait_s(self, key: Hashable) -> int:
        """0 and counts the request when ``key`` may go ahead, else the whole seconds until it may (>= 1)."""
        now = self.clock()
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= self.per_s:
            seen.popleft()
        if len(seen) >= self.max_requests:
            return max(1, int(seen[0] + self.per_s - now + 0.999))
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle keys so memory stays bounded
            self._seen = {k: q for k, q in self._seen.items() if q and now - q[-1] < self.per_s}
        return 0


def try_again_text(wait_s: int, who: str = "You") -> str:
    """The friendly answer to a rate-limited image request."""
    return f"{who} asked for a lot of maps just now; try again in {wait_s} s."


