"""Durations and times at the edges: accepted forms and clear errors."""

from __future__ import annotations

import pytest

from bot.errors import LiqmapError
from bot.timeparse import iso_utc, parse_duration, parse_time


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30m", 1_800_000), ("1h", 3_600_000), ("1.5h", 5_400_000), ("3d", 259_200_000), ("1w", 604_800_000)],
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "h", "10", "-1h", "0h", "1y", "one hour"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(LiqmapError, match="duration"):
        parse_duration(text)


def test_times_round_trip() -> None:
    ms = parse_time("2026-03-05T06:00Z")
    assert ms == 1_772_690_400_000
    assert parse_time("2026-03-05T06:00:00") == ms  # naive means UTC
    assert parse_time("2026-03-05T07:00+01:00") == ms
    assert parse_time(str(ms)) == ms
    assert iso_utc(ms) == "2026-03-05T06:00:00Z"


def test_bad_time() -> None:
    with pytest.raises(LiqmapError, match="ISO 8601"):
        parse_time("yesterday")
