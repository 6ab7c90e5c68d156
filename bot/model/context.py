"""What traders read beside the map: open interest, funding, long/short ratio and real liquidations, per exchange
and in total. Pure data, no I/O; ``None`` wherever a figure is unknown.

Units: USD, UTC ms, rates as fractions per funding interval (0.0001 = 0.01 %).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B8 = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ExchangeContext:
    """One exchange's context over a map's window (``exchange`` "total" for the aggregate: OI and realized USD
    summed, funding and long/short ratio OI-weighted means).

    ``funding_rate`` is the last settled rate per ``funding_interval_h`` hours; ``predicted_funding_rate`` the next
    one where the exchange publishes it; ``long_short_ratio`` accounts long over short (ccxt
    ``fetchLongShortRatioHistory``); ``realized_*_usd`` the USD of positions really liquidated over the window
    (lower bounds where the feed is throttled, see ``MapContext.realized_lower_bound``)."""

    exchange: str
    oi_usd: float | None = None
    oi_change_pct: float | None = None
    funding_rate: float | None = None
    funding_interval_h: float | None = None
    predicted_funding_rate: float | None = None
    long_short_ratio: float | None = None
    realized_long_usd: float | None = None
    realized_short_usd: float | None = None

    @property
    def funding_annualised_pct(self) -> float | None:
        """The last settled rate as a simple yearly rate in % (rate × settlements per year × 100)."""
        if self.funding_rate is None:
            return None
        return self.funding_rate * (24.0 * 365.0 / (self.funding_interval_h or 8.0)) * 100.0

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (every field, null when unknown)."""
        return asdict(self)


@dataclass(frozen=True)
class MapContext:
    """Context of one map: the window it covers, each exchange's figures and the total."""

    window: str
    exchanges: tuple[ExchangeContext, ...]
    total: ExchangeContext
    realized_lower_bound: bool = False  # some prints come from a throttled feed (Binance forceOrder)
    realized_source: str = ""  # where realized liquidations came from ("" when none were recorded)

    def to_json(self) -> dict[str, Any]:
        """The ``"context"`` object of ``liqmap map --json``."""
        return {
            "window": self.window,
            "total": self.total.to_json(),
            "exchanges": {e.exchange: e.to_json() for e in self.exchanges},
            "realized_lower_bound": self.realized_lower_bound,
            "realized_source": self.realized_source or None,
        }


@dataclass(frozen=True)
class LiquidationPrints:
    """Real liquidation events to draw and count (k events, time ascending).

    Attributes:
        time_ms: (k,) UTC ms of each event.
        price: (k,) USD fill (or bankruptcy) price.
        usd: (k,) USD notional liquidated.
        is_long: (k,) True when a long position was liquidated (a sell), False for a short.
        exchanges: the exchanges the events came from.
        lower_bound: True when a feed is throttled, so sums are lower bounds.
        source: "stream" (the exchanges' websocket feeds) or "dataset" (a replayed ``liquidations.csv``).
        exchange_ix: (k,) index into ``exchanges`` of each event's exchange (None: not known per event).
        complete_from_ms: the feeds are complete from this instant on (UTC ms; 0: the whole history, as in a
            dataset). Before it, what was recorded is a lower bound and an absence of events proves nothing.
    """

    time_ms: I64
    price: F64
    usd: F64
    is_long: B8
    exchanges: tuple[str, ...] = ()
    lower_bound: bool = False
    source: str = field(default="stream")  # "stream" | "dataset" | "simulated" (the synthetic market)
    exchange_ix: I64 | None = None
    complete_from_ms: int = 0

    def complete_after(self, since_ms: int) -> bool:
        """True when the feeds were complete over everything after ``since_ms`` (an absence of events means none)."""
        return since_ms >= self.complete_from_ms

    @property
    def n(self) -> int:
        """Number of events."""
        return int(self.time_ms.shape[0])

    def _where(self, keep: B8, exchanges: tuple[str, ...] | None = None) -> LiquidationPrints:
        ix = None if self.exchange_ix is None else self.exchange_ix[keep]
        return LiquidationPrints(self.time_ms[keep], self.price[keep], self.usd[keep], self.is_long[keep],
                                 self.exchanges if exchanges is None else exchanges, self.lower_bound, self.source, ix,
                                 self.complete_from_ms)

    def between(self, since_ms: int, until_ms: int) -> LiquidationPrints:
        """Events with ``since_ms < time_ms <= until_ms``."""
        return self._where((self.time_ms > since_ms) & (self.time_ms <= until_ms))

    def of_exchange(self, exchange: str) -> LiquidationPrints:
        """The events of one exchange (all of them when only that exchange is listed; none when not per event)."""
        if self.exchanges == (exchange,):
            return self
        if self.exchange_ix is None or exchange not in self.exchanges:
            return self._where(np.zeros(self.n, dtype=bool), (exchange,))
        return self._where(self.exchange_ix == self.exchanges.index(exchange), (exchange,))

    def totals(self) -> tuple[float, float]:
        """(long USD, short USD) liquidated."""
        return float(self.usd[self.is_long].sum()), float(self.usd[~self.is_long].sum())


def empty_prints() -> LiquidationPrints:
    """No events."""
    return LiquidationPrints(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, bool))
