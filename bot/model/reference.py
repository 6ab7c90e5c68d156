"""A deliberately plain per-candle, per-level Python simulation of the same model (slow; for tests and benchmarks).

It walks candles in time order keeping an explicit list of open cohorts, liquidates (clips) them against each new
candle, shrinks them on OI falls, then opens the candle's cohorts. It also books every USD that leaves the book,
so ``deposited - closed - liquidated - decayed == pending`` can be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.market.types import LeverageTier
from bot.model.flows import Flows
from bot.model.grid import Grid
from bot.model.liquidation import isolated_liq_price
from bot.model.params import ModelParams

F64 = npt.NDArray[np.float64]


@dataclass
class ReferenceResult:
    """Loop-model output: long/short (n_bins,) USD on the grid plus the USD ledger (unclipped by the grid)."""

    long_usd: F64
    short_usd: F64
    deposited: float
    closed: float
    liquidated: float
    decayed: float
    pending: float


@dataclass
class _Ledger:
    """USD that entered (``deposited``) or left the book (``closed``, ``liquidated``), accumulated in place."""

    deposited: float = 0.0
    closed: float = 0.0
    liquidated: float = 0.0


# An open cohort: [side (+1 long / -1 short), lo price, hi price, mass USD, close_time ms UTC]
Cohort = list[float]


def _liq_factors(params: ModelParams, tiers: tuple[LeverageTier, ...]) -> dict[tuple[int, float], float]:
    """Liquidation price / entry price for each (side, leverage) at the typical position size."""
    return {
        (side, lev): float(isolated_liq_price(1.0, lev, side, params.typical_position_usd, tiers))
        for side in (1, -1)
        for lev in params.leverages
    }


def _sweep_cohorts(book: list[Cohort], low: float, high: float, f: float, ledger: _Ledger) -> None:
    """Clip every open cohort against one candle's ``low`` / ``high`` (price) — longs liquidate from the top, shorts
    from the bottom — then keep the share ``f`` (close factor) of what survives; the rest is booked as closed."""
    for pos in book:
        side, lo, hi, mass = pos[0], pos[1], pos[2], pos[3]
        if mass <= 0.0:
            continue
        width = hi - lo
        if side > 0 and hi >= low:
            new_hi = min(hi, low)
            kept = max(new_hi - lo, 0.0) / width
            ledger.liquidated += mass * (1.0 - kept)
            pos[2], pos[3] = max(new_hi, lo), mass * kept
        elif side < 0 and lo <= high:
            new_lo = max(lo, high)
            kept = max(hi - new_lo, 0.0) / width
            ledger.liquidated += mass * (1.0 - kept)
            pos[1], pos[3] = min(new_lo, hi), mass * kept
        ledger.closed += pos[3] * (1.0 - f)
        pos[3] *= f


def _open_cohorts(
    book: list[Cohort], flows: Flows, j: int, factors: dict[tuple[int, float], float], params: ModelParams,
    ledger: _Ledger,
) -> None:
    """Open candle ``j``'s cohorts: its deposit (USD) split by side share and leverage weight, each spread over the
    candle's low..high times the liquidation factor (padded to ``min_width_frac`` of the close). A share
    ``same_candle_sweep`` of each also meets the candle's own low (longs) / high (shorts) right away."""
    low, high = float(flows.low[j]), float(flows.high[j])
    dep = float(flows.deposit[j])
    shares = {1: float(flows.long_share[j]), -1: float(flows.short_share[j])}
    min_w = params.min_width_frac * float(flows.close[j])
    for side in (1, -1):
        side_dep = dep * shares[side]
        for lev, w in zip(params.leverages, params.weights, strict=True):
            k = factors[(side, lev)]
            lo, hi = low * k, high * k
            pad = max(min_w - (hi - lo), 0.0) / 2.0
            lo, hi, mass = lo - pad, hi + pad, side_dep * w
            ledger.deposited += mass
            q = params.same_candle_sweep
            if q > 0.0:  # a share q also meets this candle's own low (longs) / high (shorts) after opening
                own_lo, own_hi = (lo, min(hi, low)) if side > 0 else (max(lo, high), hi)
                kept = max(own_hi - own_lo, 0.0) / (hi - lo)
                ledger.liquidated += q * mass * (1.0 - kept)
                if kept > 0.0:
                    book.append([side, own_lo, own_hi, q * mass * kept, float(flows.close_time[j])])
                mass *= 1.0 - q
            book.append([side, lo, hi, mass, float(flows.close_time[j])])


def _bin_survivors(
    book: list[Cohort], grid: Grid, end: float, params: ModelParams
) -> tuple[F64, F64, float, float]:
    """Decay each surviving cohort to ``end`` (ms UTC) and spread its USD uniformly over its price range on
    ``grid``: (long (n_bins,) USD, short (n_bins,) USD, USD decayed, USD pending after decay)."""
    long_usd = np.zeros(grid.n_bins)
    short_usd = np.zeros(grid.n_bins)
    edges = grid.edges
    decayed = pending = 0.0
    for side, lo, hi, mass, t in book:
        if mass <= 0.0 or hi <= lo:
            continue
        if params.half_life_h > 0:
            keep = math.exp(-math.log(2.0) * (end - t) / 3_600_000.0 / params.half_life_h)
            decayed += mass * (1.0 - keep)
            mass *= keep
        pending += mass
        target = long_usd if side > 0 else short_usd
        density = mass / (hi - lo)
        first = max(int((lo - grid.lo) // grid.width), 0)
        last = min(int((hi - grid.lo) // grid.width), grid.n_bins - 1)
        for b in range(first, last + 1):
            overlap = min(hi, edges[b + 1]) - max(lo, edges[b])
            if overlap > 0:
                target[b] += density * overlap
    return long_usd, short_usd, decayed, pending


def reference_book(
    flows: Flows, grid: Grid, params: ModelParams, tiers: tuple[LeverageTier, ...] = ()
) -> ReferenceResult:
    """Run the loop model over ``flows`` and bin the survivors on ``grid`` (decayed to the last close)."""
    factors = _liq_factors(params, tiers)
    book: list[Cohort] = []
    ledger = _Ledger()
    for j in range(flows.n):
        _sweep_cohorts(book, float(flows.low[j]), float(flows.high[j]), float(flows.close_factor[j]), ledger)
        _open_cohorts(book, flows, j, factors, params, ledger)
    end = float(flows.close_time[-1]) if flows.n else 0.0
    long_usd, short_usd, decayed, pending = _bin_survivors(book, grid, end, params)
    return ReferenceResult(
        long_usd, short_usd, ledger.deposited, ledger.closed, ledger.liquidated, decayed, pending
    )
