"""What every market source returns, and the protocol all sources (ccxt, sim, replay) implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.market.types import Freshness, MarketSeries


@dataclass(frozen=True)
class SourceResult:
    """One load: a series per exchange that answered, and a freshness entry per configured exchange."""

    series: list[MarketSeries]  # one per exchange that answered
    freshness: list[Freshness]  # one per configured exchange


class MarketSource(Protocol):
    """A source of per-exchange market history for one symbol at a time."""

    synthetic: bool
    exchanges: tuple[str, ...]
    end_ms: int | None  # where "now" is for this source: a replay's last candle close; None = the wall clock

    async def load(
        self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None
    ) -> SourceResult:
        """History with candle open times from ``since_ms`` whose candles closed by ``until_ms``
        (None = now)."""
        ...

    async def close(self) -> None:
        """Release network sessions; safe to call twice."""
        ...


@runtime_checkable
class ListsSymbols(Protocol):
    """A source that can say, before anything is fetched or computed, whether it has a symbol at all (the ccxt
    source asks the exchanges' market lists; sim and replay answer from what they hold)."""

    exchanges: tuple[str, ...]

    async def supports(self, symbol: str) -> bool:
        """True when at least one exchange lists the unified ``symbol``, or when that cannot be told right now
        (a market list failed to load): then the load itself reports the problem per exchange."""
        ...
