"""Recorded datasets played back as if they were live exchanges: ``liqmap run --source replay:DIR[,DIR...]``.

Each directory holds one exchange's history (``docs/datasets.md``). ``ReplaySet`` aggregates them the way the live
source aggregates exchanges, and with a clock it serves, at virtual time t, exactly the candles, open interest and
funding that had closed (or been stamped) by t: "now" is the clock's, never the end of the recording.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.clock import Clock
from bot.market.errors import MarketError
from bot.market.result import SourceResult
from bot.market.source import ReplaySource
from bot.market.symbols import parse_symbol


class ReplaySet:
    """Several ``ReplaySource`` directories as one market source; ``clock`` makes it live (``replay_live``)."""

    def __init__(self, sources: Sequence[ReplaySource], clock: Clock | None = None) -> None:
        if not sources:
            raise MarketError("replay needs at least one dataset directory: use --source replay:DIR[,DIR...]")
        names = [s.exchanges[0] for s in sources]
        if len(set(names)) != len(names):
            raise MarketError(f"each replayed dataset must be a different exchange; got {', '.join(names)}")
        self.sources = tuple(sources)
        self.clock = clock
        self.replay_live = clock is not None
        self.synthetic = any(s.synthetic for s in sources)
        self.exchanges: tuple[str, ...] = tuple(names)
        ends = [s.end_ms for s in sources if s.end_ms is not None]
        self.data_end_ms = max(ends) if ends else 0
        self.end_ms: int | None = None if clock is not None else self.data_end_ms

    @property
    def data_start_ms(self) -> int:
        """Open time of the earliest candle of any dataset (UTC ms)."""
        return min(int(s.series.timestamp[0]) for s in self.sources if s.series.n)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The unified symbols the datasets hold, in dataset order, without repeats."""
        return tuple(dict.fromkeys(parse_symbol(s.series.symbol) for s in self.sources))

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        """Every dataset's series as of ``until_ms`` (None: the clock's now, or the recordings' end)."""
        if until_ms is None:
            until_ms = self.clock() if self.clock is not None else self.end_ms
        parts = await asyncio.gather(*(s.load(symbol, timeframe, since_ms, until_ms) for s in self.sources))
        return SourceResult(series=[x for p in parts for x in p.series],
                            freshness=[f for p in parts for f in p.freshness])

    async def supports(self, symbol: str) -> bool:
        """True when any dataset holds ``symbol``."""
        answers = await asyncio.gather(*(s.supports(symbol) for s in self.sources))
        return any(answers)

    async def close(self) -> None:
        """Nothing to release."""


def replay_dirs(spec: str) -> list[str]:
    """The directories of ``replay:DIR[,DIR...]`` (empty entries dropped)."""
    _, _, arg = spec.partition(":")
    return [part.strip() for part in arg.split(",") if part.strip()]
