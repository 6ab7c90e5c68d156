"""Parsing of times and durations given at the edges (CLI, chat): ISO 8601 or ms in, UTC ms out."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from bot.errors import LiqmapError

# ASCII digits only ("١٢m" or fullwidth digits are not durations); no exponent, no nan/inf.
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE | re.ASCII)
_UNIT_MS = {"m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
MAX_DURATION_MS = 100 * 365 * 86_400_000  # a century: anything longer is a typo or an attack


class DurationTooLong(LiqmapError):
    """A well-formed duration longer than ``MAX_DURATION_MS`` (e.g. hundreds of digits)."""


def _shown(text: str, limit: int = 40) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (with an ellipsis), so errors stay one short line."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_duration(text: str) -> int:
    """``"90m"``, ``"1h"``, ``"3d"``, ``"1w"`` → milliseconds. Raises ``LiqmapError`` with the accepted form, and
    ``DurationTooLong`` beyond a century (never ``OverflowError``)."""
    match = _DURATION.match(text)
    if not match:
        raise LiqmapError(f"invalid duration {_shown(text)}: use a number and a unit, e.g. 30m, 1h, 3d or 1w")
    value = float(match.group(1))  # any number of ASCII digits parses (to inf at worst); never raises
    if value <= 0:
        raise LiqmapError(f"invalid duration {_shown(text)}: it must be positive")
    ms = value * _UNIT_MS[match.group(2).lower()]
    if not math.isfinite(ms) or ms > MAX_DURATION_MS:
        raise DurationTooLong(f"duration {_shown(text)} is too long: at most 100 years")
    return int(ms)


def parse_time(text: str) -> int:
    """ISO 8601 (``2026-03-05T06:00Z``, naive = UTC) or integer ms since the epoch → UTC ms."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= 16:  # '²'.isdigit(); ms fit in 16 digits
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise LiqmapError(
            f"invalid time {_shown(text)}: use ISO 8601 such as 2026-03-05T06:00Z, or milliseconds since 1970"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    """UTC ms → ISO 8601 string with a ``Z`` suffix (second precision)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
