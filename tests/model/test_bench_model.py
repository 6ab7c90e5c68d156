"""The model benchmark's ``reference_loop_ratio`` is a same-machine, same-input ratio: the plain Python loop is
slower than the vectorised pending book on any machine."""

from __future__ import annotations

import math

from bot.benchmarks.model import reference_ratio


def test_reference_loop_ratio_shows_the_vectorised_book_is_faster() -> None:
    ratio = reference_ratio(repeats=1)
    assert math.isfinite(ratio)
    assert ratio > 1, ratio  # about 100-200 in practice; > 1 holds however loaded the machine is
