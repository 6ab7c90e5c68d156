"""The market sources behind one protocol, and ``make_source`` that builds one from its spec string.

``ccxt`` (live exchanges), ``sim`` (seeded synthetic market, offline) and ``replay:DIR`` (a recorded dataset
directory in the format of ``shared/data/README.md``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt

from bot.clock import Clock, wall_ms
from bot.config import Settings
from bot.market.ccxt_source import CcxtSource
from bot.market.errors import MarketError
from bot.market.replay_source import ReplaySet, ReplaySource
from bot.market.result import ListsSymbols, MarketSource, SourceResult
from bot.market.series_ops import cut
from bot.market.sim import BASE_PRICE, synthetic_series
from bot.market.symbols import parse_symbol
from bot.market.tiers import default_tiers
from bot.market.types import Freshness, MarketSeries, timeframe_ms

__all__ = [
    "CcxtSource", "ListsSymbols", "MarketSource", "ReplaySource", "SimSource", "SourceResult", "is_listed",
    "make_source",
]

SPECS = "'ccxt', 'sim' or 'replay:DIR[,DIR...]'"
MAX_SIM_CANDLES = 400 * 1440  # a year of 1m candles is plenty for any window


class SimSource:
    """The seeded synthetic market (``synthetic=True``): every exchange gets its own deterministic series.

    ``now_ms`` fixes "now" (tests, demos); None uses the wall clock. ``end_ms`` is that fixed now, or None.
    """

    synthetic = True

    def __init__(self, exchanges: Sequence[str], seed: int = 7, now_ms: int | None = None) -> None:
        if not exchanges:
            raise MarketError("the sim source needs at least one exchange name, e.g. binanceusdm")
        self.exchanges = tuple(exchanges)
        self.seed = seed
        self.end_ms: int | None = now_ms

    def _now(self) -> int:
        return self.end_ms if self.end_ms is not None else wall_ms()

    async def load(self, symbol: str, timeframe: str, since_ms: int, until_ms: int | None = None) -> SourceResult:
        """Closed synthetic candles that opened at/after ``since_ms`` and closed by ``until_ms`` (None = now,
        rounded down to the timeframe), for every exchange."""
        tf = timeframe_ms(timeframe)
        symbol = parse_symbol(symbol)
        end = self._now() if until_ms is None else until_ms
        first_open = -(-since_ms // tf) * tf
        last_open = (end // tf) * tf - tf
        n = (last_open - first_open) // tf + 1
        if n > MAX_SIM_CANDLES:
            raise MarketError(f"the sim window is too long: {n} {timeframe} candles (at most {MAX_SIM_CANDLES})")
        series: list[MarketSeries] = []
        fresh: list[Freshness] = []
        for ex in self.exchanges:
            if n < 1:
                fresh.append(Freshness(ex, True, 0, end, "no closed candle in the requested window"))
                continue
            s = synthetic_series(ex, symbol, timeframe, end, n, self.seed)
            s = cut(s, since_ms, end)
            s = replace(s, tiers=default_tiers(symbol))
            series.append(s)
            fresh.append(Freshness(ex, True, s.last_close_time, end))
        return SourceResult(series=series, freshness=fresh)

    async def supports(self, symbol: str) -> bool:
        """The synthetic market lists the coins it has a price model for (``sim.BASE_PRICE``: BTC and ETH), linear
        and inverse."""
        try:
            return parse_symbol(symbol).split("/", 1)[0] in BASE_PRICE
        except MarketError:
            return False

    async def close(self) -> None:
        """Nothing to release."""


async def is_listed(source: object, symbol: str) -> bool:
    """Ask ``source`` (or the source a wrapper such as ``StoredSource`` holds as ``inner``) whether it has
    ``symbol`` at all (``ListsSymbols.supports``). True when no source in the chain can tell."""
    for _ in range(8):  # wrappers are one or two deep; never loop forever on a cycle
        if isinstance(source, ListsSymbols):
            return await source.supports(symbol)
        source = getattr(source, "inner", None)
        if source is None:
            break
    return True


def check_exchange_ids(exchanges: Sequence[str]) -> tuple[str, ...]:
    """Validate ccxt exchange ids (one clear line naming close matches when one is unknown)."""
    ids = tuple(e.strip().lower() for e in exchanges if e.strip())
    if not ids:
        raise MarketError("no exchanges configured; set e.g. LIQMAP_EXCHANGES=binanceusdm,bybit,okx")
    known = set(ccxt.exchanges)
    for e in ids:
        if e not in known:
            close = difflib.get_close_matches(e, sorted(known), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise MarketError(
                f"unknown exchange {e!r}; {hint}use ccxt exchange ids such as binanceusdm, bybit, okx "
                f"({len(known)} are available)"
            )
    return ids


def make_source(
    spec: str,
    exchanges: Sequence[str],
    *,
    seed: int = 7,
    api_keys: Mapping[str, str] | None = None,
    api_secrets: Mapping[str, str] | None = None,
    exchange_options: Mapping[str, Mapping[str, Any]] | None = None,
    clock: Clock = wall_ms,
) -> MarketSource:
    """Build the source named by ``spec``: ``ccxt``, ``sim`` or ``replay:DIR``.

    ``exchange_options`` are extra ccxt constructor options per exchange id (deep-merged by ccxt: e.g. other API
    URLs for a proxy or a regional endpoint); ``clock`` is the bot's one clock (UTC ms).

    Raises ``MarketError`` (one line, naming the valid choices) for an unknown spec or exchange id, and
    ``DatasetError`` for a missing or malformed replay directory.
    """
    text = (spec or "").strip()
    kind, _, arg = text.partition(":")
    kind = kind.lower()
    if kind == "ccxt" and not arg:
        return CcxtSource(check_exchange_ids(exchanges), api_keys=api_keys, api_secrets=api_secrets,
                          options=exchange_options, clock=clock)
    if kind == "sim" and not arg:
        return SimSource(check_exchange_ids(exchanges), seed=seed)
    if kind == "replay":
        dirs = [part.strip() for part in arg.split(",") if part.strip()]
        if not dirs:
            raise MarketError("replay needs a dataset directory: use --source replay:DIR[,DIR...]")
        if len(dirs) == 1:
            return ReplaySource(Path(dirs[0]).expanduser())
        return ReplaySet([ReplaySource(Path(d).expanduser()) for d in dirs])
    raise MarketError(f"unknown market source {spec!r}; use {SPECS}")


def source_from_settings(settings: Settings, *, clock: Clock = wall_ms) -> MarketSource:
    """Build the market source the settings name (ccxt, sim or replay:DIR)."""
    return make_source(
        settings.source,
        settings.exchanges,
        seed=settings.sim_seed,
        api_keys={k: v.get_secret_value() for k, v in settings.exchange_api_keys.items()},
        api_secrets={k: v.get_secret_value() for k, v in settings.exchange_api_secrets.items()},
        exchange_options=settings.exchange_options,
        clock=clock,
    )
