"""The one money / price / percent / time formatter used everywhere (text replies, CLI, chart labels).

Examples: ``fmt_usd(412e6) == "$412M"``, ``fmt_usd(67_400) == "$67.4k"``, ``fmt_price(67_412.0) == "67.4k"``,
``fmt_price(67_412.0, full=True) == "67,412"``, ``fmt_range(68_000, 68_300) == "68.0k–68.3k"``,
``fmt_pct(1.234) == "+1.2%"``, ``fmt_time_utc(ms) == "2026-11-24 13:05 UTC"``.
Nothing rounds until it is formatted here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_USD_UNITS: tuple[tuple[float, str], ...] = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
NA = "n/a"


def _scaled(value: float) -> str:
    """``value`` (>= 1, < 1000) with one decimal below 100 (trailing ``.0`` dropped), none from 100 up."""
    if value < 99.95:
        text = f"{value:.1f}"
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.0f}"


def fmt_usd(x: float) -> str:
    """USD amount in compact form: ``$950``, ``$1.2k``, ``$67.4k``, ``$120k``, ``$41.5M``, ``$412M``, ``$2.5B``;
    at most 3 significant digits, ``n/a`` for NaN / inf."""
    if not math.isfinite(x):
        return NA
    sign = "-" if x < 0 else ""
    a = abs(x)
    for size, unit in _USD_UNITS:
        if a >= size * 0.9995:  # 999.6k reads as $1M, not $1000k
            return f"{sign}${_scaled(a / size)}{unit}"
    return f"{sign}${a:.0f}"


def fmt_price(x: float, decimals: int = 1, *, full: bool = False) -> str:
    """Price like a chart axis: ``67.4k`` (thousands with ``decimals`` digits) or ``950.5`` below 1000.

    ``full=True`` writes the whole price with thousands separators, for a headline or price tag:
    ``67,412`` (whole dollars from 1000 up), ``150.25`` below 1000, ``0.4321`` below 1.
    """
    if not math.isfinite(x):
        return NA
    if full:
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.2f}" if abs(x) >= 1 else f"{x:.4g}"
    if abs(x) >= 1000:
        return f"{x / 1000:.{decimals}f}k"
    return f"{x:.{max(decimals, 1)}f}" if abs(x) >= 1 else f"{x:.4g}"


def fmt_range(low: float, high: float) -> str:
    """A price range ``68.0k–68.3k``, with just enough decimals that the two ends differ."""
    for decimals in (1, 2, 3):
        lo, hi = fmt_price(low, decimals), fmt_price(high, decimals)
        if lo != hi:
            break
    return f"{lo}–{hi}"


def fmt_pct(x: float, decimals: int = 1, signed: bool = True) -> str:
    """Percent value (already in %): ``+1.2%`` / ``-0.8%`` (or unsigned); ``n/a`` for NaN."""
    if not math.isfinite(x):
        return NA
    return f"{x:+.{decimals}f}%" if signed else f"{x:.{decimals}f}%"


def fmt_time_utc(ms: int | float) -> str:
    """UTC ms timestamp as ``2026-11-24 13:05 UTC`` (ISO 8601 date and minute)."""
    if not math.isfinite(ms):
        return NA
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
