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


def reference_book(
    flows: Flows, grid: Grid, params: ModelParams, tiers: tuple[LeverageTier, ...] = ()
) -> ReferenceResult:
    """Run the loop model over ``flows`` and bin the survivors on ``grid`` (decayed to the last close)."""
    weights = params.weights
    factors = {
        (side, lev): float(isolated_liq_price(1.0, lev, side, params.typical_position_usd, tiers))
        for side in (1, -1)
        for lev in params.leverages
    }
    book: list[list[float]] = []  # [side, lo, hi, mass, close_time]
    deposited = closed = liquidated = 0.0
    for j in range(flows.n):
        low, high, f = float(flows.low[j]), float(flows.high[j]), float(flows.close_factor[j])
        for pos in book:
            side, lo, hi, mass = pos[0], pos[1], pos[2], pos[3]
            if mass <= 0.0:
                continue
            width = hi - lo
            if side > 0 and hi >= low:
                new_hi = min(hi, low)
                kept = max(new_hi - lo, 0.0) / width
                liquidated += mass * (1.0 - kept)
                pos[2], pos[3] = max(new_hi, lo), mass * kept
            elif side < 0 and lo <= high:
                new_lo = max(lo, high)
                kept = max(hi - new_lo, 0.0) / width
                liquidated += mass * (1.0 - kept)
                pos[1], pos[3] = min(new_lo, hi), mass * kept
            closed += pos[3] * (1.0 - f)
            pos[3] *= f
        dep = float(flows.deposit[j])
        shares = {1: float(flows.long_share[j]), -1: float(flows.short_share[j])}
        min_w = params.min_width_frac * float(flows.close[j])
        for side in (1, -1):
            side_dep = dep * shares[side]
            for lev, w in zip(params.leverages, weights, strict=True):
                k = factors[(side, lev)]
                lo, hi = low * k, high * k
                pad = max(min_w - (hi - lo), 0.0) / 2.0
                lo, hi, mass = lo - pad, hi + pad, side_dep * w
                deposited += mass
                q = params.same_candle_sweep
                if q > 0.0:  # a share q also meets this candle's own low (longs) / high (shorts) after opening
                    own_lo, own_hi = (lo, min(hi, low)) if side > 0 else (max(lo, high), hi)
                    kept = max(own_hi - own_lo, 0.0) / (hi - lo)
                    liquidated += q * mass * (1.0 - kept)
                    if kept > 0.0:
                        book.append([side, own_lo, own_hi, q * mass * kept, float(flows.close_time[j])])
                    mass *= 1.0 - q
                book.append([side, lo, hi, mass, float(flows.close_time[j])])
    long_usd = np.zeros(grid.n_bins)
    short_usd = np.zeros(grid.n_bins)
    edges = grid.edges
    end = float(flows.close_time[-1]) if flows.n else 0.0
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
    return ReferenceResult(long_usd, short_usd, deposited, closed, liquidated, decayed, pending)
