"""Recorded datasets as market sources: ``ReplaySource`` (one dataset directory, for ``map`` and the backtest) and
``ReplaySet`` (several, played back as if they were live exchanges: ``liqmap run --source replay:DIR[,DIR...]``).

Each directory holds one exchange's history (``docs/datasets.md``). ``ReplaySet`` aggregates them the way the live
source aggregates exchanges, and with a clock it serves, at virtual time t, exactly the candles, open interest and
funding that had closed (or been stamped) by t: "now" is the clock's, never the end of the recording.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.clock import Clock
from bot.market.errors import MarketError
from bot.market.replay import load_dataset
from bot.market.result import SourceResult
from bot.market.series_ops import cut, resample
from bot.market.symbols import parse_symbol
from bot.market.types import Freshness, timeframe_ms


class ReplaySource:
    """A recorded dataset directory served as a market source (``synthetic`` as its meta.json says).

    ``end_ms`` is the close time of the dataset's last candle, so callers can default "now" to it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.series = load_dataset(self.path)
        self.synthetic = self.series.synthetic
        self.exchanges: tuple[str, ...] = (self.series.exchange,)
        self.end_ms: int | None = self.series.last_close_time

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        """The dataset cut to candles opened at/after ``since_ms`` that closed by ``until_ms`` (None = the
        dataset end). Candles are resampled to ``timeframe`` when that is a coarser multiple of the dataset's;
        a finer timeframe than recorded gets the dataset's own candles. Another symbol than the dataset's
        gives no series and a freshness entry saying why."""
        tf = timeframe_ms(timeframe)
        s = self.series
        end = self.end_ms if until_ms is None else until_ms
        fetched = min(s.fetched_at, end) if end is not None else s.fetched_at
        try:
            wanted = parse_symbol(symbol)
            held = parse_symbol(s.symbol)
        except MarketError:
            wanted, held = symbol, s.symbol
        if wanted != held:
            msg = f"dataset {self.path.name} holds {s.symbol}, not {symbol}"
            return SourceResult(series=[], freshness=[Freshness(s.exchange, False, 0, fetched, msg)])
        if tf > s.timeframe_ms and tf % s.timeframe_ms == 0:
            s = resample(s, timeframe)
        out = cut(s, since_ms, end)  # end, not None: a resampled partial last bucket has not closed
        fresh = Freshness(s.exchange, True, out.last_close_time, fetched,
                          "" if out.n else "no candles of the dataset in the requested window")
        return SourceResult(series=[out] if out.n else [], freshness=[fresh])

    async def supports(self, symbol: str) -> bool:
        """Only the dataset's own symbol."""
        try:
            return parse_symbol(symbol) == parse_symbol(self.series.symbol)
        except MarketError:
            return symbol == self.series.symbol

    async def close(self) -> None:
        """Nothing to release."""


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
