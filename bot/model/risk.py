"""A personal risk check: one user position's isolated liquidation price against the map. Pure numpy, no I/O.

Conventions as ``bot.model.liquidation``: ``side`` +1 long / -1 short, prices USD, ``size_usd`` the position's
notional at entry in USD (linear: Q = size / entry BTC; inverse: Q = size USD of contract face value).
The liquidation price is Binance's one-way isolated formula with the wallet balance = the initial margin
N / L (``bot.model.liquidation.isolated_factor``, linear and inverse) and the maintenance-margin tier of the
position's notional at that price. Distances are in % of the current price, positive while the position is safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier, MarketSeries
from bot.model.forecast import DEFAULT_FORECAST, ForecastParams, parkinson_sigma, reach_probability
from bot.model.liquidation import (
    DEFAULT_INVERSE_TIERS,
    DEFAULT_TIERS,
    F64,
    isolated_factor,
)
from bot.model.types import Cluster, LiqMap

I64 = npt.NDArray[np.int64]
# Bybit's BTCUSDT risk limits, the first four tiers (position value USD, MMR, max leverage, MM deduction USD), as in
# the recorded reply of Bybit's public v5 risk-limit endpoint (tests/data/market/bybit_risk_limit_btcusdt.json).
# Exchanges revise them; the live table is used whenever the source can fetch it. Larger positions need it.
BYBIT_BTCUSDT_TIERS: tuple[LeverageTier, ...] = (
    LeverageTier(0.0, 2_000_000.0, 0.005, 100.0, 0.0),
    LeverageTier(2_000_000.0, 3_600_000.0, 0.0075, 80.0, 5_000.0),
    LeverageTier(3_600_000.0, 5_200_000.0, 0.01, 66.66, 14_000.0),
    LeverageTier(5_200_000.0, 6_800_000.0, 0.0125, 57.14, 27_000.0),
)
FORMULA_NAMES = {"binance": "Binance", "bybit": "Bybit"}
DAY_MS = 86_400_000
SIDES = {"long": 1, "short": -1}


@dataclass(frozen=True)
class Position:
    """A user's position: ``side`` +1 long / -1 short, ``entry`` USD, ``leverage`` (x), ``size_usd`` notional USD
    at entry, ``inverse`` for a coin-margined (COIN-M) contract."""

    side: int
    entry: float
    leverage: float
    size_usd: float
    inverse: bool = False
    formula: str = "binance"  # whose isolated-margin formula: "binance" (USDⓈ-M, COIN-M) or "bybit" (USDT linear)

    @property
    def side_name(self) -> str:
        """'long' or 'short'."""
        return "long" if self.side > 0 else "short"

    @property
    def tier_notional(self) -> float:
        """The notional the tier table is looked up by: USD (linear) or the coin at entry (inverse)."""
        return self.size_usd / self.entry if self.inverse else self.size_usd


def bundled_tiers(inverse: bool, formula: str = "binance") -> tuple[LeverageTier, ...]:
    """The bundled table of the exchange (``formula``) and contract kind."""
    if formula == "bybit":
        return BYBIT_BTCUSDT_TIERS
    return DEFAULT_INVERSE_TIERS if inverse else DEFAULT_TIERS


def table_of(tiers: Sequence[LeverageTier], inverse: bool, formula: str = "binance") -> tuple[LeverageTier, ...]:
    """``tiers`` or, when empty, the bundled table of the exchange and contract kind."""
    return tuple(tiers) or bundled_tiers(inverse, formula)


def _tier_at(table: tuple[LeverageTier, ...], notional: float) -> LeverageTier:
    """The tier whose [floor, cap) holds ``notional`` (the table's unit)."""
    for tier in table:
        if tier.floor_usd <= notional < tier.cap_usd:
            return tier
    return table[-1] if notional >= table[-1].floor_usd else table[0]


def tier_of(pos: Position, tiers: Sequence[LeverageTier] = ()) -> LeverageTier:
    """The maintenance-margin tier of ``pos``'s notional at entry (what its maximum leverage is checked against)."""
    return _tier_at(table_of(tiers, pos.inverse, pos.formula), pos.tier_notional)


def liq_with_tier(pos: Position, tiers: Sequence[LeverageTier] = ()) -> tuple[float, LeverageTier]:
    """(isolated liquidation price USD, the tier it used). NaN when there is none (a long whose margin covers the
    whole notional, e.g. 1x, can never be liquidated: the formula gives a price <= 0).

    Binance margins a position by its notional *at the liquidation price* (Q x LP linear, Q / LP inverse): when that
    falls in another tier than the entry notional, the price is recomputed with that tier's MMR and maintenance
    amount (Binance's liquidation-price FAQ). Maintenance margin is continuous across tiers, so this settles in a
    step or two; the initial margin (WB = N / L) stays the entry notional's.
    """
    if pos.formula == "bybit":
        return bybit_liq(pos, _tier_at(table_of(tiers, pos.inverse, "bybit"), pos.size_usd))
    table = table_of(tiers, pos.inverse)
    n_entry = pos.tier_notional
    tier = _tier_at(table, n_entry)
    lp = float("nan")
    for _ in range(len(table) + 1):
        k = float(isolated_factor(pos.leverage, pos.side, tier.mmr, tier.cum_usd / n_entry, inverse=pos.inverse))
        lp = pos.entry * k
        if not (math.isfinite(lp) and lp > 0):
            return float("nan"), tier
        at_level = pos.size_usd / lp if pos.inverse else pos.size_usd * lp / pos.entry
        nxt = _tier_at(table, at_level)
        if nxt == tier:
            break
        tier = nxt
    return lp, tier


def bybit_liq(pos: Position, tier: LeverageTier) -> tuple[float, LeverageTier]:
    """Bybit's isolated liquidation price of a USDT-linear position, with its risk-limit ``tier`` (by position
    value at entry): long EP - (IM - MM) / Q, short EP + (IM - MM) / Q, where Q = size / EP coins, IM = size / L and
    MM = size x MMR - deduction (Bybit's help centre, "Liquidation Price (USDT Contract)"). NaN when <= 0."""
    q = pos.size_usd / pos.entry
    im = pos.size_usd / pos.leverage
    mm = pos.size_usd * tier.mmr - tier.cum_usd
    lp = pos.entry - pos.side * (im - mm) / q
    return (lp if math.isfinite(lp) and lp > 0 else float("nan")), tier


def liq_price(pos: Position, tiers: Sequence[LeverageTier] = ()) -> float:
    """Isolated-margin liquidation (mark) price of ``pos``, USD (``liq_with_tier``); NaN when there is none."""
    return liq_with_tier(pos, tiers)[0]


def distance_pct(price: float, level: float, side: int) -> float:
    """Room left from ``price`` to the liquidation ``level`` (USD), % of price: positive while safe (a long's level
    below price, a short's above), negative once price is beyond it; NaN when there is no level."""
    if not (math.isfinite(level) and price > 0):
        return float("nan")
    return side * (price - level) / price * 100.0


def clusters_between(clusters: Sequence[Cluster], price: float, level: float, side: int) -> tuple[Cluster, ...]:
    """Clusters of the position's own side that lie (at least partly) between ``price`` and ``level`` (USD),
    nearest to price first: a cascade through them can carry price to the level. No level (NaN): every cluster
    of that side beyond price."""
    name = "long" if side > 0 else "short"
    far = level if math.isfinite(level) else (0.0 if side > 0 else math.inf)
    lo, hi = (far, price) if side > 0 else (price, far)
    out = [c for c in clusters if c.side == name and c.high > lo and c.low < hi]
    return tuple(sorted(out, key=lambda c: abs(c.distance_pct)))


def entry_zone(clusters: Sequence[Cluster], entry: float) -> Cluster | None:
    """The densest cluster (either side) whose range contains ``entry`` USD, or None."""
    inside = [c for c in clusters if c.low <= entry <= c.high]
    return max(inside, key=lambda c: c.usd) if inside else None


def path_sigma(path_time: I64, path_low: F64, path_high: F64, timeframe_ms: int, at_ms: int,
               fparams: ForecastParams = DEFAULT_FORECAST) -> float:
    """Log volatility per sqrt(ms) from the map's traded path (the forecast's Parkinson estimate).

    path_time: (p,) candle close times ms UTC; path_low / path_high: (p,) USD wicks of those candles;
    ``timeframe_ms`` the candle length. Uses the same trailing window and floor as the forecast layer.
    """
    opens = np.asarray(path_time, dtype=np.int64) - int(timeframe_ms)
    mid = (np.asarray(path_low) + np.asarray(path_high)) / 2.0
    nan = np.full(opens.shape, np.nan)
    series = MarketSeries(exchange="map", symbol="", timeframe=_tf_name(timeframe_ms), timestamp=opens, open=mid,
                          high=np.asarray(path_high, dtype=np.float64), low=np.asarray(path_low, dtype=np.float64),
                          close=mid, volume=nan, taker_buy_volume=nan)
    return parkinson_sigma(series, at_ms, fparams)


def _tf_name(timeframe_ms: int) -> str:
    """A ccxt timeframe name for a candle length (minutes, hours or days)."""
    for unit, ms in (("d", DAY_MS), ("h", 3_600_000), ("m", 60_000)):
        if timeframe_ms % ms == 0:
            return f"{timeframe_ms // ms}{unit}"
    raise ValueError(f"no timeframe name for {timeframe_ms} ms")


def reach_within(price: float, level: float, sigma: float, horizon_ms: int = DAY_MS) -> float:
    """P(price touches ``level`` within ``horizon_ms``) for a driftless log random walk (the forecast layer's
    ``reach_probability``); ``sigma`` per sqrt(ms). 1 once price is at or beyond the level, NaN without a level."""
    if not (math.isfinite(level) and price > 0):
        return float("nan")
    return float(reach_probability(np.asarray(math.log(level / price)), sigma, float(horizon_ms)))


@dataclass(frozen=True)
class RiskCheck:
    """The answer for one position against one map.

    liq: liquidation price USD (NaN = none); tier: the maintenance-margin tier at that price;
    distance_pct: room from price to liq, %; between: own-side clusters between price and liq, nearest first;
    between_usd: USD of those clusters; reach_24h: probability (0..1) price touches liq within ``horizon_ms``;
    sigma: log volatility per sqrt(ms); entry_zone: the dense cluster the entry sits in, or None;
    price: the map's price USD.
    """

    position: Position
    price: float
    liq: float
    tier: LeverageTier
    distance_pct: float
    between: tuple[Cluster, ...]
    between_usd: float
    reach_24h: float
    sigma: float
    entry_zone: Cluster | None
    horizon_ms: int = DAY_MS

    @property
    def beyond(self) -> bool:
        """True when price is already at or past the liquidation price."""
        return math.isfinite(self.distance_pct) and self.distance_pct <= 0


def assess(pos: Position, m: LiqMap, timeframe_ms: int, tiers: Sequence[LeverageTier] = (),
           horizon_ms: int = DAY_MS) -> RiskCheck:
    """Check ``pos`` against the map ``m`` (its price, clusters and traded path of ``timeframe_ms`` candles)."""
    level, tier = liq_with_tier(pos, tiers)
    between = clusters_between(m.clusters, m.price, level, pos.side)
    sigma = path_sigma(m.path_time, m.path_low, m.path_high, timeframe_ms, m.at)
    dist = distance_pct(m.price, level, pos.side)
    reach = 1.0 if math.isfinite(dist) and dist <= 0 else reach_within(m.price, level, sigma, horizon_ms)
    return RiskCheck(position=pos, price=m.price, liq=level, tier=tier, distance_pct=dist,
                     between=between, between_usd=float(sum(c.usd for c in between)), reach_24h=reach, sigma=sigma,
                     entry_zone=entry_zone(m.clusters, pos.entry), horizon_ms=horizon_ms)

