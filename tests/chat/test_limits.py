"""Sliding-window image limits: per key, friendly wait, and the per-chat budget of the command service."""

from __future__ import annotations

import pytest

from bot.chat.limits import SlidingWindowLimit, try_again_text


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_counts_per_key_and_frees_up_after_the_period() -> None:
    clock = FakeClock()
    limit = SlidingWindowLimit(3, 60.0, clock)
    assert [limit.wait_s("a") for _ in range(3)] == [0, 0, 0]
    assert limit.wait_s("b") == 0  # other keys have their own budget
    clock.now += 10
    assert limit.wait_s("a") == 50  # the oldest of the three leaves the window in 50 s
    clock.now += 50
    assert limit.wait_s("a") == 0


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_requests"):
        SlidingWindowLimit(0)


def test_text_is_friendly() -> None:
    assert try_again_text(7) == "You asked for a lot of maps just now; try again in 7 s."
