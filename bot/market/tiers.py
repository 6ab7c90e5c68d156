"""Maintenance-margin tier tables: the documented defaults (``bot/data/binance_btc_tiers.json`` for linear
USDT-margined perpetuals, ``bot/data/binance_btcusd_coinm_tiers.json`` for inverse coin-margined ones) and
conversion of ccxt's unified leverage-tier structure into ``LeverageTier`` tuples.

A tier applies to position notional in ``[floor_usd, cap_usd)``; maintenance margin = notional * mmr - cum.
Units follow the contract's margin: USD for linear contracts; the coin (BTC) for inverse ones, as Binance COIN-M
and Bybit inverse brackets are stated (the ``*_usd`` fields then hold BTC; ``bot.model.liquidation`` looks the
tier up by the notional in the coin).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from bot.market.errors import MarketError, SymbolError
from bot.market.symbols import is_inverse, parse_symbol
from bot.market.types import LeverageTier

DEFAULT_TABLE = "binance_btc_tiers.json"
DEFAULT_INVERSE_TABLE = "binance_btcusd_coinm_tiers.json"


def _cums(floors: Sequence[float], mmrs: Sequence[float]) -> list[float]:
    """Binance ``cum`` per tier: cum_0 = 0, cum_i = cum_{i-1} + floor_i * (mmr_i - mmr_{i-1})."""
    cums = [0.0]
    for i in range(1, len(floors)):
        cums.append(cums[-1] + floors[i] * (mmrs[i] - mmrs[i - 1]))
    return cums


@lru_cache(maxsize=2)
def _table(name: str) -> tuple[LeverageTier, ...]:
    """A packaged tier table; its ``unit`` (``USD`` or ``BTC``) names the floor/cap keys (``floor_usd``...)."""
    raw = json.loads(resources.files("bot.data").joinpath(name).read_text(encoding="utf-8"))
    unit = str(raw.get("unit", "USD")).lower()
    rows = raw["tiers"]
    floors = [float(r[f"floor_{unit}"]) for r in rows]
    mmrs = [float(r["mmr"]) for r in rows]
    return tuple(
        LeverageTier(
            floor_usd=floors[i],
            cap_usd=math.inf if r[f"cap_{unit}"] is None else float(r[f"cap_{unit}"]),
            mmr=mmrs[i],
            max_leverage=float(r["max_leverage"]),
            cum_usd=c,
        )
        for i, (r, c) in enumerate(zip(rows, _cums(floors, mmrs), strict=True))
    )


def default_tiers(symbol: str = "BTC/USDT:USDT") -> tuple[LeverageTier, ...]:
    """The documented default tier table for ``symbol`` (see each JSON's ``_about``): Binance BTCUSDT brackets
    (USD) for linear perpetuals, Binance COIN-M BTCUSD_PERP brackets (BTC) for inverse ones (``BTC/USD:BTC``).

    They are used for every symbol of that kind that has no live table: treat them as an approximation elsewhere.
    """
    try:
        inverse = is_inverse(parse_symbol(symbol))
    except SymbolError:
        inverse = is_inverse(symbol)
    return _table(DEFAULT_INVERSE_TABLE if inverse else DEFAULT_TABLE)


def _num(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise MarketError(f"leverage tiers: {what} is {value!r}, not a number") from None
    if math.isnan(out):
        raise MarketError(f"leverage tiers: {what} is missing")
    return out


def _info_cum(info: Any) -> float | None:
    """The exchange's own maintenance amount if its raw tier has one (Binance cum, Bybit mmDeduction)."""
    if not isinstance(info, Mapping):
        return None
    for key in ("cum", "mmDeduction"):
        value = info.get(key)
        if value not in (None, ""):
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def tiers_from_ccxt(raw: Sequence[Mapping[str, Any]], scale: float = 1.0) -> tuple[LeverageTier, ...]:
    """Convert ccxt's unified tiers (``minNotional``, ``maxNotional``, ``maintenanceMarginRate``,
    ``maxLeverage``, ``info``) into ``LeverageTier``s sorted by floor, taking ``cum`` from ``info`` when the
    exchange gives it and computing it otherwise. Notional is in the unit the exchange states it in: the quote
    currency (USD) for linear contracts, the coin for inverse ones (Binance COIN-M ``qtyFloor``). ``scale``
    converts the exchange's unit to USD (OKX: contracts → contract size × price), in which case the exchange's
    own ``cum`` is not used. Returns ``()`` for an empty list; raises ``MarketError``
    on non-numeric fields or a non-positive ``scale``."""
    if not (scale > 0 and math.isfinite(scale)):
        raise MarketError(f"leverage tiers: cannot convert to USD with scale {scale!r}")
    rows = sorted(raw, key=lambda t: _num(t.get("minNotional", 0) or 0, "minNotional"))
    if not rows:
        return ()
    floors = [_num(t.get("minNotional", 0) or 0, "minNotional") * scale for t in rows]
    mmrs = [_num(t.get("maintenanceMarginRate"), "maintenanceMarginRate") for t in rows]
    computed = _cums(floors, mmrs)
    tiers = []
    for i, t in enumerate(rows):
        cap = t.get("maxNotional")
        lev = t.get("maxLeverage")
        given = _info_cum(t.get("info")) if scale == 1.0 else None
        tiers.append(
            LeverageTier(
                floor_usd=floors[i],
                cap_usd=math.inf if cap is None else _num(cap, "maxNotional") * scale,
                mmr=mmrs[i],
                max_leverage=(1.0 / (2.0 * mmrs[i])) if lev is None else _num(lev, "maxLeverage"),
                cum_usd=computed[i] if given is None else given,
            )
        )
    return tuple(tiers)
