"""Input checks before drawing: inconsistent arrays raise one clear error; empty maps get a message instead."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from bot.errors import LiqmapError
from bot.model.types import LiqMap

KINDS: tuple[str, ...] = ("heatmap", "map")
F64 = npt.NDArray[np.float64]


def check_kind(kind: str) -> None:
    """Raise ``LiqmapError`` (a ``ValueError``) naming the valid chart kinds when ``kind`` is unknown."""
    if kind not in KINDS:
        raise LiqmapError(f"unknown chart kind {kind!r}; use one of {', '.join(KINDS)}")


def finite_usd(a: F64) -> F64:
    """``a`` (any shape, USD) with NaN / inf / negative cells set to 0; returns ``a`` itself when already clean."""
    if np.isfinite(a).all() and not (a < 0).any():
        return a
    return np.where(np.isfinite(a) & (a > 0), a, 0.0)


def validate(m: LiqMap) -> None:
    """Raise ``LiqmapError`` when the map's arrays disagree in shape or the price grid is not ascending.

    These are bugs upstream, said plainly in one line; empty arrays are fine (see ``degenerate_reason``).
    """
    b = m.bin_price.shape[0] if m.bin_price.ndim == 1 else -1
    t = m.heat_time.shape[0] if m.heat_time.ndim == 1 else -1
    v = m.leverages.shape[0] if m.leverages.ndim == 1 else -1
    if b < 0 or t < 0 or v < 0:
        raise LiqmapError("cannot draw this map: bin_price, heat_time and leverages must be 1-D arrays")
    expected = {
        "long_usd": (m.long_usd.shape, (b,)),
        "short_usd": (m.short_usd.shape, (b,)),
        "long_by_lev": (m.long_by_lev.shape, (v, b)),
        "short_by_lev": (m.short_by_lev.shape, (v, b)),
        "heat_long": (m.heat_long.shape, (t, b)),
        "heat_short": (m.heat_short.shape, (t, b)),
        "close": (m.close.shape, m.close_time.shape),
    }
    for name, (got, want) in expected.items():
        if tuple(got) != tuple(want):
            raise LiqmapError(f"cannot draw this map: {name} has shape {tuple(got)}, expected {tuple(want)}")
    if b > 1 and not (np.isfinite(m.bin_price).all() and (np.diff(m.bin_price) > 0).all()):
        raise LiqmapError("cannot draw this map: bin_price must be finite and strictly ascending")


def pending_usd(m: LiqMap) -> float:
    """All pending liquidations (longs + shorts), USD, ignoring NaN / negative bins."""
    return float(finite_usd(m.long_usd).sum() + finite_usd(m.short_usd).sum())


def degenerate_reason(m: LiqMap, kind: str) -> tuple[str, str] | None:
    """``(headline, detail)`` when the map cannot be drawn meaningfully as ``kind``, else ``None``."""
    if not m.exchanges and m.missing_exchanges:
        names = ", ".join(m.missing_exchanges)
        return "No exchange data", f"Every exchange is unavailable right now ({names}).\nTry again in a minute."
    if not (math.isfinite(m.price) and m.price > 0):
        return "No price data yet", f"The market source has not delivered a price for {m.symbol}."
    if m.bin_price.size < 2:
        return "No price grid", "The map has no price bins to draw."
    if not pending_usd(m) > 0:
        detail = "No pending liquidations are estimated for this window:\nopen interest has not built up yet."
        if m.notes:
            detail += "\n" + "\n".join(m.notes[:2])
        return "No open-interest data yet", detail
    if kind == "heatmap" and m.heat_time.size == 0:
        return "No heatmap history yet", "Too few candles in the window; the liquidation map (kind 'map') works."
    return None
