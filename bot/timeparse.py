"""Parsing of times and durations given at the edges (CLI, chat): ISO 8601 or ms in, UTC ms out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.errors import LiqmapError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_MS = {"m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_duration(text: str) -> int:
    """``"90m"``, ``"1h"``, ``"3d"``, ``"1w"`` → milliseconds. Raises ``LiqmapError`` with the accepted form."""
    match = _DURATION.match(text)
    if not match:
        raise LiqmapError(f"invalid duration {text!r}: use a number and a unit, e.g. 30m, 1h, 3d or 1w")
    value = float(match.group(1))
    if value <= 0:
        raise LiqmapError(f"invalid duration {text!r}: it must be positive")
    return int(value * _UNIT_MS[match.group(2).lower()])


def parse_time(text: str) -> int:
    """ISO 8601 (``2026-03-05T06:00Z``, naive = UTC) or integer ms since the epoch → UTC ms."""
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise LiqmapError(
            f"invalid time {text!r}: use ISO 8601 such as 2026-03-05T06:00Z, or milliseconds since 1970"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    """UTC ms → ISO 8601 string with a ``Z`` suffix (second precision)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
