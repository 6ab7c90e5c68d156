"""Liquidation-price formulas (Binance conventions), vectorised over numpy arrays, plus maintenance-margin tiers.

Conventions: ``side`` is +1 for a long and -1 for a short; prices in USD; linear quantities in base units (BTC);
inverse (COIN-M) quantities in USD of contract face value and wallet balances in the coin (BTC).
The liquidation price is where the *mark* price triggers liquidation; the bankruptcy price (where the position's
margin is exactly used up, and where OKX records its liquidation orders) lies about one MMR beyond it.

Tier tables are in the unit the exchange margins the contract in: USD notional for linear (USDT-M) contracts,
the coin for inverse (COIN-M) ones, where Binance's brackets, ``cum`` included, are in BTC. ``LeverageTier``'s
``floor_usd``/``cap_usd``/``cum_usd`` then hold BTC. The isolated formulas only need MMR and cum / notional, a
ratio that is the same in either unit at the entry price.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier

F64 = npt.NDArray[np.float64]
ArrayLike = float | npt.NDArray[np.float64] | npt.NDArray[np.int64] | npt.NDArray[np.int8]

# Binance USD-M BTCUSDT leverage brackets ([notional floor USD, MMR, max leverage]): the same table as
# bot/data/binance_btc_tiers.json (Binance's published brackets; its ``_about`` gives the source), which
# ``bot.market.tiers.default_tiers`` reads; a test keeps the two equal. Used when a series carries no tiers.
_BINANCE_BTCUSDT: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.004, 125.0),
    (50_000.0, 0.005, 100.0),
    (600_000.0, 0.0065, 75.0),
    (3_000_000.0, 0.01, 50.0),
    (12_000_000.0, 0.02, 25.0),
    (70_000_000.0, 0.025, 20.0),
    (100_000_000.0, 0.05, 10.0),
    (230_000_000.0, 0.1, 5.0),
    (480_000_000.0, 0.125, 4.0),
    (600_000_000.0, 0.15, 3.0),
    (800_000_000.0, 0.25, 2.0),
    (1_200_000_000.0, 0.5, 1.0),
)


def tiers_from_brackets(brackets: list[tuple[float, float, float]]) -> tuple[LeverageTier, ...]:
    """Build tiers from ``[(floor_usd, mmr, max_leverage), ...]`` ascending, deriving Binance's ``cum``.

    ``cum_i = cum_{i-1} + floor_i * (mmr_i - mmr_{i-1})`` keeps the maintenance margin continuous across tiers.
    """
    tiers: list[LeverageTier] = []
    cum = 0.0
    prev_mmr = 0.0
    for i, (floor, mmr, max_lev) in enumerate(brackets):
        if i:
            cum += floor * (mmr - prev_mmr)
        cap = brackets[i + 1][0] if i + 1 < len(brackets) else float("inf")
        tiers.append(LeverageTier(floor_usd=floor, cap_usd=cap, mmr=mmr, max_leverage=max_lev, cum_usd=cum))
        prev_mmr = mmr
    return tuple(tiers)


# Binance COIN-M BTCUSD_PERP brackets as recorded in ccxt's test data ([floor in BTC, MMR]; the same table as
# bot/data/binance_btcusd_coinm_tiers.json, whose ``_about`` gives the sources); max leverage per tier 1/(2 MMR)
# rounded down, Binance's pattern. Used for inverse series that carry no tiers.
_BINANCE_BTCUSD_COINM: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.004, 125.0),
    (5.0, 0.005, 100.0),
    (10.0, 0.01, 50.0),
    (20.0, 0.025, 20.0),
    (50.0, 0.05, 10.0),
    (100.0, 0.1, 5.0),
    (200.0, 0.125, 4.0),
    (400.0, 0.15, 3.0),
    (1000.0, 0.25, 2.0),
    (1500.0, 0.5, 1.0),
)

DEFAULT_TIERS: tuple[LeverageTier, ...] = tiers_from_brackets(list(_BINANCE_BTCUSDT))
DEFAULT_INVERSE_TIERS: tuple[LeverageTier, ...] = tiers_from_brackets(list(_BINANCE_BTCUSD_COINM))


def tier_lookup(
    notional: ArrayLike, tiers: tuple[LeverageTier, ...] = (), inverse: bool = False
) -> tuple[F64, F64]:
    """MMR and cum of the tier that applies to each ``notional``, in the table's unit.

    notional: (...) position notional (absolute): USD for linear contracts, the coin (BTC) for inverse ones.
    Returns (mmr, cum), each with the shape of ``notional``. An empty ``tiers`` means ``DEFAULT_TIERS``
    (``DEFAULT_INVERSE_TIERS`` when ``inverse``).
    """
    table = tiers or (DEFAULT_INVERSE_TIERS if inverse else DEFAULT_TIERS)
    floors = np.array([t.floor_usd for t in table], dtype=np.float64)
    mmr = np.array([t.mmr for t in table], dtype=np.float64)
    cum = np.array([t.cum_usd for t in table], dtype=np.float64)
    n = np.abs(np.asarray(notional, dtype=np.float64))
    idx = np.clip(np.searchsorted(floors, n, side="right") - 1, 0, len(table) - 1)
    return mmr[idx], cum[idx]


def isolated_factor(leverage: ArrayLike, side: ArrayLike, mmr: ArrayLike, cum_frac: ArrayLike,
                    inverse: bool = False) -> F64:
    """LP / EP of an isolated position whose margin is notional / L (dimensionless, broadcast over inputs).

    Both follow from Binance's one-way formulas with the wallet balance WB = the isolated margin:
      linear  (USDT-M, WB = N/L in USD):    k = (1 - side * (1/L + cum/N)) / (1 - side * MMR)
      inverse (COIN-M, WB = N/L in coin):   k = (1 + side * MMR) / (1 + side * (1/L + cum/N))
    with cum/N the tier's maintenance amount over the notional, both in the table's unit. Longs get k < 1, shorts
    k > 1; the inverse long level sits closer to entry than the linear one (a long's coin margin is worth less as
    price falls) and the inverse short level further away.
    """
    lev = np.asarray(leverage, dtype=np.float64)
    s = np.sign(np.asarray(side, dtype=np.float64))
    m = np.asarray(mmr, dtype=np.float64)
    c = np.asarray(cum_frac, dtype=np.float64)
    if inverse:
        return np.asarray((1.0 + s * m) / (1.0 + s * (1.0 / lev + c)), dtype=np.float64)
    return np.asarray((1.0 - s * (1.0 / lev + c)) / (1.0 - s * m), dtype=np.float64)


def _cum_frac(cum: F64, n: F64) -> F64:
    return np.divide(cum, n, out=np.zeros(np.broadcast(cum, n).shape), where=n > 0)


def isolated_liq_price(
    entry: ArrayLike, leverage: ArrayLike, side: ArrayLike, notional: ArrayLike, tiers: tuple[LeverageTier, ...] = ()
) -> F64:
    """Binance USDT-M (linear) isolated-margin liquidation price (USD), broadcast over all inputs.

    long:  LP = EP * (1 - 1/L - cum/N) / (1 - MMR);  short: LP = EP * (1 + 1/L + cum/N) / (1 + MMR),
    with N = |notional| USD and (MMR, cum) from the tier that applies to N. Shapes broadcast; returns USD.
    """
    ep = np.asarray(entry, dtype=np.float64)
    n = np.abs(np.asarray(notional, dtype=np.float64))
    mmr, cum = tier_lookup(n, tiers)
    return np.asarray(ep * isolated_factor(leverage, side, mmr, _cum_frac(cum, n)), dtype=np.float64)


def inverse_isolated_liq_price(
    entry: ArrayLike, leverage: ArrayLike, side: ArrayLike, qty_usd: ArrayLike, tiers: tuple[LeverageTier, ...] = ()
) -> F64:
    """Binance COIN-M (inverse) isolated-margin liquidation price (USD), broadcast over all inputs.

    long:  LP = EP * (1 + MMR) / (1 + 1/L + cum/N);  short: LP = EP * (1 - MMR) / (1 - 1/L - cum/N),
    with Q = |qty_usd| = contracts x contract value (USD), N = Q / EP the notional in the coin and (MMR, cum)
    from the coin-denominated tier that applies to N (``DEFAULT_INVERSE_TIERS`` when ``tiers`` is empty).
    This is ``inverse_cross_liq_price`` with the wallet balance = the isolated margin N / L.
    """
    ep = np.asarray(entry, dtype=np.float64)
    n = np.abs(np.asarray(qty_usd, dtype=np.float64)) / ep
    mmr, cum = tier_lookup(n, tiers, inverse=True)
    return np.asarray(ep * isolated_factor(leverage, side, mmr, _cum_frac(cum, n), inverse=True), dtype=np.float64)


def cross_liq_price(
    wallet_balance: ArrayLike,
    qty: ArrayLike,
    entry: ArrayLike,
    side: ArrayLike,
    mmr: ArrayLike,
    cum: ArrayLike = 0.0,
    other_mm: ArrayLike = 0.0,
    other_upnl: ArrayLike = 0.0,
) -> F64:
    """Binance one-way (cross) linear liquidation price (USD), broadcast over all inputs.

    LP = (WB - TMM + UPNL + cum - side*Q*EP) / (Q*MMR - side*Q), with WB the cross wallet balance (USD),
    TMM/UPNL the maintenance margin and unrealised PnL of the account's *other* positions (USD), Q > 0 in BTC.
    """
    q = np.abs(np.asarray(qty, dtype=np.float64))
    s = np.sign(np.asarray(side, dtype=np.float64))
    ep = np.asarray(entry, dtype=np.float64)
    num = np.asarray(wallet_balance) - np.asarray(other_mm) + np.asarray(other_upnl) + np.asarray(cum) - s * q * ep
    return np.asarray(num / (q * np.asarray(mmr) - s * q), dtype=np.float64)


def inverse_cross_liq_price(
    wallet_balance_coin: ArrayLike,
    qty_usd: ArrayLike,
    entry: ArrayLike,
    side: ArrayLike,
    mmr: ArrayLike,
    cum_coin: ArrayLike = 0.0,
    other_mm_coin: ArrayLike = 0.0,
    other_upnl_coin: ArrayLike = 0.0,
) -> F64:
    """Binance COIN-M (inverse) one-way cross liquidation price (USD), broadcast over all inputs.

    LP = (Q*MMR + side*Q) / (WB - TMM + UPNL + cum + side*Q/EP), with Q = contracts x contract value (USD),
    WB/TMM/UPNL/cum in the coin (BTC).
    """
    q = np.abs(np.asarray(qty_usd, dtype=np.float64))
    s = np.sign(np.asarray(side, dtype=np.float64))
    ep = np.asarray(entry, dtype=np.float64)
    den = (
        np.asarray(wallet_balance_coin)
        - np.asarray(other_mm_coin)
        + np.asarray(other_upnl_coin)
        + np.asarray(cum_coin)
        + s * q / ep
    )
    return np.asarray((q * np.asarray(mmr) + s * q) / den, dtype=np.float64)


def bankruptcy_price(entry: ArrayLike, leverage: ArrayLike, side: ArrayLike) -> F64:
    """Price at which an isolated position's initial margin is fully lost: EP * (1 - side/L). USD."""
    ep = np.asarray(entry, dtype=np.float64)
    s = np.sign(np.asarray(side, dtype=np.float64))
    return np.asarray(ep * (1.0 - s / np.asarray(leverage, dtype=np.float64)), dtype=np.float64)


def liq_factors(
    leverages: F64,
    side: int,
    notional: float,
    tiers: tuple[LeverageTier, ...] = (),
    *,
    inverse: bool = False,
    price: ArrayLike = 1.0,
) -> F64:
    """Multiplier k per leverage bucket so that isolated LP = EP * k for a position of ``notional`` USD.

    leverages: (v,). Linear: returns (v,). Inverse (``inverse=True``): the tier is picked by the notional in the
    coin, ``notional / price`` (``price``: USD, a scalar or e.g. (n, 1) entry prices), and the result has the
    broadcast shape of ``leverages`` and ``price``. Dimensionless; k < 1 for longs and k > 1 for shorts.
    """
    if not inverse:
        return isolated_liq_price(np.ones_like(leverages), leverages, float(side), float(notional), tiers)
    n = abs(float(notional)) / np.asarray(price, dtype=np.float64)
    mmr, cum = tier_lookup(n, tiers, inverse=True)
    return isolated_factor(leverages, float(side), mmr, _cum_frac(cum, n), inverse=True)
