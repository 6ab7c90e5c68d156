"""One profile per exchange: everything the live source does differently per ccxt id, in one place.

``profile_for(exchange_id)`` returns the ``ExchangeProfile`` of a ccxt id, or ``DEFAULT`` (re-labelled with
that id) for any other ccxt exchange. Adding an exchange means adding one entry to ``PROFILES``; no module of
``bot.market`` compares exchange ids (``tests/market/test_exchange_profiles.py`` checks it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from bot.market.types import TIMEFRAME_MS

HOUR_MS = 3_600_000
COMMON_OI_PERIODS = ("5m", "1h", "1d")  # OI-history periods every supported exchange accepts


def _frozen(options: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(options))


@dataclass(frozen=True)
class ExchangeProfile:
    """What differs between exchanges, for one ccxt id.

    - ``market_options``: ccxt ``options`` merged into the client's config (e.g. only swap market lists).
    - ``candle_limit`` / ``oi_limit`` / ``funding_limit``: rows per page of klines, OI history, funding history.
    - ``oi_periods``: the OI-history periods the exchange accepts (ccxt timeframe names), finest first.
    - ``funding_end_param``: the request param that bounds a funding-history page from above (``until`` is
      ccxt's unified one; OKX takes its own exclusive ``after``).
    - ``funding_every_ms``: settlement interval of the BTC perpetuals (paging span of funding history).
    - ``raw_klines``: name of a ccxt implicit-API method returning raw klines, used instead of ``fetch_ohlcv``
      because ccxt drops the taker-buy column; ``taker_buy_column`` is that column's index in a raw row.
    - ``public_tiers``: the leverage-tier endpoint needs no API key.
    - ``tiers_in_contracts``: swap tiers are stated in contracts (converted with contract size × price).
    """

    id: str
    market_options: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    candle_limit: int = 500
    oi_limit: int = 200
    funding_limit: int = 100
    oi_periods: tuple[str, ...] = COMMON_OI_PERIODS
    funding_end_param: Literal["until", "after"] = "until"
    funding_every_ms: int = 8 * HOUR_MS
    raw_klines: str | None = None
    taker_buy_column: int | None = None
    public_tiers: bool = False
    tiers_in_contracts: bool = False

    def __post_init__(self) -> None:
        if (self.raw_klines is None) != (self.taker_buy_column is None):
            raise ValueError(f"{self.id}: raw_klines and taker_buy_column go together")
        unknown = [p for p in self.oi_periods if p not in TIMEFRAME_MS]
        if not self.oi_periods or unknown:
            raise ValueError(f"{self.id}: bad OI periods {self.oi_periods!r}")

    def client_options(self) -> dict[str, Any]:
        """A fresh, mutable copy of ``market_options`` for a ccxt config."""
        return copy.deepcopy(dict(self.market_options))

    def oi_period(self, timeframe: str) -> str:
        """The OI-history period to request for candles of ``timeframe``: the same when the exchange offers it,
        otherwise the nearest finer one (1m → the finest offered)."""
        tf = TIMEFRAME_MS[timeframe]
        allowed = [p for p in self.oi_periods if TIMEFRAME_MS[p] <= tf] or [self.oi_periods[0]]
        return allowed[-1]


_SWAP_LISTS = _frozen({"fetchMarkets": {"types": ["linear", "inverse"]}})

DEFAULT = ExchangeProfile(id="")

PROFILES: Mapping[str, ExchangeProfile] = MappingProxyType({
    p.id: p for p in (
        ExchangeProfile(
            id="binanceusdm", candle_limit=1500, oi_limit=500, funding_limit=1000,
            oi_periods=("5m", "15m", "30m", "1h", "2h", "4h", "1d"),
            raw_klines="fapiPublicGetKlines", taker_buy_column=9,
        ),
        ExchangeProfile(id="binance", market_options=_SWAP_LISTS),
        ExchangeProfile(
            id="bybit", market_options=_SWAP_LISTS, candle_limit=1000, oi_limit=200, funding_limit=200,
            oi_periods=("5m", "15m", "30m", "1h", "4h", "1d"), public_tiers=True,
        ),
        ExchangeProfile(
            id="okx", market_options=_frozen({"fetchMarkets": {"types": ["swap"]}}), candle_limit=300,
            oi_limit=100, funding_limit=100, oi_periods=("5m", "1h", "1d"), funding_end_param="after",
            public_tiers=True, tiers_in_contracts=True,
        ),
    )
})


def profile_for(exchange_id: str) -> ExchangeProfile:
    """The profile of ccxt id ``exchange_id``; ``DEFAULT`` (with that id) for an exchange without one."""
    return PROFILES.get(exchange_id) or replace(DEFAULT, id=exchange_id)
