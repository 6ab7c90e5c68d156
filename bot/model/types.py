"""The map object every consumer (CLI, renderer, alerts, chat) reads. Pure data, no I/O.

Units: prices USD, sizes USD notional, times UTC ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from bot.model.context import LiquidationPrints, MapContext

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

Side = Literal["long", "short"]

# Window name -> (length ms, candle timeframe used to build it).
WINDOWS: dict[str, tuple[int, str]] = {
    "12h": (12 * 3_600_000, "5m"),
    "24h": (24 * 3_600_000, "5m"),
    "3d": (3 * 86_400_000, "15m"),
    "7d": (7 * 86_400_000, "1h"),
    "30d": (30 * 86_400_000, "4h"),
}


def window_ms(window: str) -> int:
    """Length of a named window in ms; raises ``ValueError`` naming the valid choices."""
    try:
        return WINDOWS[window][0]
    except KeyError:
        raise ValueError(f"unknown window {window!r}; use one of {', '.join(WINDOWS)}") from None


@dataclass(frozen=True)
class Cluster:
    """A dense contiguous zone of pending liquidations on one side of price.

    ``id`` is stable across recomputations while the zone persists (alerts use it to tell
    "the same zone" from a new one). ``distance_pct`` is signed: (near edge - price) / price * 100,
    so long clusters (below price) are negative and short clusters (above) positive.
    """

    id: str
    side: Side
    low: float
    high: float
    peak: float
    usd: float
    share: float
    distance_pct: float

    def to_json(self) -> dict[str, Any]:
        """The ``map --json`` cluster shape."""
        return {
            "id": self.id,
            "side": self.side,
            "low": self.low,
            "high": self.high,
            "peak": self.peak,
            "usd": self.usd,
            "share": self.share,
            "distance_pct": self.distance_pct,
        }


@dataclass(frozen=True)
class LiqMap:
    """Estimated pending liquidations for one symbol at one instant, aggregated over exchanges.

    Attributes (b = price bins, v = leverage buckets, t = heatmap time columns):
        bin_price: (b,) USD bin centres, ascending, uniform spacing ``bin_width``.
        long_usd: (b,) USD notional of longs that would be liquidated if price traded at that bin.
        short_usd: (b,) same for shorts.
        leverages: (v,) leverage of each bucket (e.g. 5..125).
        long_by_lev / short_by_lev: (v, b) USD per leverage bucket; sums over axis 0 equal long_usd/short_usd.
        heat_time: (t,) ms UTC of each heatmap column (candle close times over the window).
        heat_long / heat_short: (t, b) USD pending at each time column, on the same bins.
        close_time / close: (t,) ms and USD close price line for the heatmap.
        oi_usd: open interest at ``at`` in USD summed over exchanges (NaN when unknown).
        funding_rate: latest funding rate (notional-weighted mean over exchanges; NaN when unknown).
        oi_change_pct: OI change over the window in % (NaN when unknown).
        replay: True when computed from recorded data played back as live (``at`` is then the virtual time); it
            must be labelled REPLAY wherever shown, as ``synthetic`` is labelled SYNTHETIC.
        path_time / path_low / path_high: (p,) close time ms and low/high USD of each candle of the price
            reference series in the window: the traded path, wicks included (sweeps are judged on it).
        oi_share: share of the window's candles modelled from open-interest changes, 0..1 (the rest from the
            traded-volume proxy; NaN when nothing contributed). The footer states it.
        context: OI, funding, long/short ratio and realized liquidations beside the map (None until attached).
        prints: real liquidation events over the window (None when no feed recorded any), drawn as bubbles.
        next_long_usd / next_short_usd: (b,) USD at the liquidation levels of positions expected to open in the
            next hour (``bot.model.openings``; empty when not computed). Not in ``long_usd``/``short_usd``: clusters,
            alerts and images read the pending book only; the traded-range score reads both.
    """

    symbol: str
    window: str
    exchanges: tuple[str, ...]
    at: int
    price: float
    bin_price: F64
    long_usd: F64
    short_usd: F64
    leverages: F64
    long_by_lev: F64
    short_by_lev: F64
    heat_time: I64
    heat_long: F64
    heat_short: F64
    close_time: I64
    close: F64
    clusters: tuple[Cluster, ...] = ()
    synthetic: bool = False
    replay: bool = False
    missing_exchanges: tuple[str, ...] = ()
    oi_usd: float = float("nan")
    funding_rate: float = float("nan")
    oi_change_pct: float = float("nan")
    notes: tuple[str, ...] = field(default=())
    path_time: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    path_low: F64 = field(default_factory=lambda: np.zeros(0))
    path_high: F64 = field(default_factory=lambda: np.zeros(0))
    oi_share: float = float("nan")
    next_long_usd: F64 = field(default_factory=lambda: np.zeros(0))
    next_short_usd: F64 = field(default_factory=lambda: np.zeros(0))
    context: MapContext | None = None
    prints: LiquidationPrints | None = None

    @property
    def bin_width(self) -> float:
        """Spacing of the price grid, USD."""
        return float(self.bin_price[1] - self.bin_price[0]) if self.bin_price.size > 1 else 0.0

    @property
    def total_long_usd(self) -> float:
        """All pending long liquidations, USD."""
        return float(self.long_usd.sum())

    @property
    def total_short_usd(self) -> float:
        """All pending short liquidations, USD."""
        return float(self.short_usd.sum())

    @property
    def is_empty(self) -> bool:
        """True when nothing is pending (no OI yet, flat market, or no data)."""
        return not (self.total_long_usd > 0 or self.total_short_usd > 0)

    def to_json(self) -> dict[str, Any]:
        """The ``liqmap map --json`` object (documented in the README)."""
        return {
            "symbol": self.symbol,
            "window": self.window,
            "exchanges": list(self.exchanges),
            "missing_exchanges": list(self.missing_exchanges),
            "at": int(self.at),
            "price": float(self.price),
            "bins": {
                "price": self.bin_price.tolist(),
                "long_usd": self.long_usd.tolist(),
                "short_usd": self.short_usd.tolist(),
                **({"next_hour_long_usd": self.next_long_usd.tolist(),
                    "next_hour_short_usd": self.next_short_usd.tolist()}
                   if self.next_long_usd.size == self.bin_price.size else {}),
            },
            "clusters": [c.to_json() for c in self.clusters],
            "synthetic": bool(self.synthetic),
            "modelled_from_oi_share": None if self.oi_share != self.oi_share else float(self.oi_share),
            "context": None if self.context is None else self.context.to_json(),
        }
