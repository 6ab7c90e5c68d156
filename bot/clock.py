"""The one clock: every part that asks "what time is it?" gets a ``Clock`` passed down (UTC milliseconds).

``wall_ms`` is the production clock. ``VirtualClock`` runs the whole bot over recorded history: it stands still
while a tick runs (so a tick sees one instant, whatever the machine's speed), and between ticks it flows ``speed``
times faster than real time up to the next tick, never past it. Nothing is skipped when a tick is slow: the clock
simply waits for it. Tests pass any callable with the ``Clock`` shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

Clock = Callable[[], int]


def wall_ms() -> int:
    """Current UTC time in milliseconds."""
    return int(time.time() * 1000)


async def wall_sleep_until(clock: Clock, at_ms: int, stop: asyncio.Event) -> None:
    """Wait in real time until ``clock()`` reaches ``at_ms`` or ``stop`` is set."""
    delay = max(0.0, (at_ms - clock()) / 1000)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)


class VirtualClock:
    """Virtual UTC ms starting at ``start_ms``, ``speed`` times faster than real time between ticks.

    Call it for "now". ``advance_to(t, stop)`` lets time flow (at ``speed``) up to ``t`` and then holds it there,
    so everything a tick does happens at exactly ``t``.
    """

    def __init__(self, start_ms: int, speed: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._mono = monotonic
        self._base_ms = int(start_ms)
        self._base_mono = monotonic()
        self._cap_ms = int(start_ms)

    def __call__(self) -> int:
        flowed = int((self._mono() - self._base_mono) * 1000 * self.speed)
        return min(self._base_ms + flowed, self._cap_ms)

    async def advance_to(self, at_ms: int, stop: asyncio.Event) -> None:
        """Let virtual time flow to ``at_ms`` (real wait ``(at_ms - now) / speed``), then hold it there. Returns
        early, without moving past now, when ``stop`` is set."""
        now = self()
        self._base_ms, self._base_mono, self._cap_ms = now, self._mono(), max(int(at_ms), now)
        delay = max(0.0, (self._cap_ms - now) / 1000 / self.speed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            self._cap_ms = self()
            return
        self._base_ms, self._base_mono = self._cap_ms, self._mono()
